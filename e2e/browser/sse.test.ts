// GET /v1/sse from a plain EventSource in real Chromium, no SDK, from a page on another origin (so
// CORS is part of what is tested): every message once, in order, across an edge SIGKILL and an edge
// drain (JetStream keeps the log; the EventSource reconnects by itself with Last-Event-ID); the same
// with the SDK (loaded from the edge's /client.js) over SSE only; and the entitlement refusals a page
// can see: a stream refused before it starts (the EventSource stops; the same request shows 401 with
// the JSON error) and a forbidden topic's `err` event.
import test, { type ExecutionContext } from "ava";
import type { BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../harness/chromium.js";
import { restartableEdge, type EdgeProcess } from "../harness/edge-process.js";
import { publishAcross, publishUntilStored, range } from "../harness/http.js";
import { startTestEdge } from "../harness/test-edge.js";
import { signToken, TEST_API_KEY, TEST_EDGE_ENV } from "../harness/tokens.js";
import { sleep, waitFor } from "../harness/wait.js";

/** A page of an application on its own origin, not the edge's. */
const APP_ORIGIN = "http://app.herald.test";

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>EventSource</title></head><body>
<script>
  const params = new URLSearchParams(location.search);
  window.sse = { got: [], ids: [], suboks: 0, errs: [], errors: 0, opens: 0, closes: [] };
  const source = new EventSource(params.get("stream"));
  source.onopen = () => sse.opens++;
  source.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    sse.got.push(frame.data.n);
    sse.ids.push(event.lastEventId);
  };
  source.addEventListener("subok", () => sse.suboks++);
  source.addEventListener("err", (event) => sse.errs.push(JSON.parse(event.data)));
  source.addEventListener("close", (event) => sse.closes.push(JSON.parse(event.data).code));
  source.onerror = () => sse.errors++;
  window.source = source;
</script>
</body></html>`;

interface PageState {
  got: number[];
  ids: string[];
  suboks: number;
  errs: { code: string; id?: number }[];
  errors: number;
  opens: number;
  closes: number[];
  readyState: number;
}

async function openPage(context: BrowserContext, stream: string): Promise<Page> {
  await context.route(`${APP_ORIGIN}/**`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: PAGE }),
  );
  const page = await context.newPage();
  await page.goto(`${APP_ORIGIN}/?stream=${encodeURIComponent(stream)}`);
  return page;
}

function state(page: Page): Promise<PageState> {
  return page.evaluate(() => {
    const w = window as unknown as { sse: Omit<PageState, "readyState">; source: EventSource };
    return { ...w.sse, readyState: w.source.readyState };
  });
}

/** An edge that lets anyone subscribe and can be killed or drained and restarted, and Chromium. */
async function anonymousEdgeAndBrowser(t: ExecutionContext, drainSeconds: string) {
  const edges = await restartableEdge(t, {
    HERALD_DRAIN_SECONDS: drainSeconds,
    HERALD_ALLOW_ANONYMOUS: "true",
  });
  return { edges, context: await launchChromium(t) };
}

/** Publishes `total` messages to `topic` while the edge is interrupted (killed or drained) and respawned. */
async function publishAcrossRestart(
  edges: Awaited<ReturnType<typeof restartableEdge>>,
  topic: string,
  total: number,
  interrupt: (edge: EdgeProcess) => void,
): Promise<void> {
  await publishAcross(
    () => edges.edge().url,
    total,
    () => topic,
    TEST_API_KEY,
    async () => {
      interrupt(edges.edge());
      await edges.edge().exited;
      await edges.respawn();
    },
  );
}

async function streamAcross(
  t: ExecutionContext,
  topic: string,
  drainSeconds: string,
  interrupt: (edge: EdgeProcess) => void,
): Promise<void> {
  const { edges, context } = await anonymousEdgeAndBrowser(t, drainSeconds);
  const page = await openPage(context, `${edges.edge().url}/v1/sse?topic=${topic}`);
  await waitFor("the stream's subok", async () => (await state(page)).suboks >= 1);

  const total = 60;
  await publishAcrossRestart(edges, topic, total, interrupt);
  await waitFor(`${total} messages`, async () => (await state(page)).got.length >= total, 90_000).catch(
    async (error: unknown) => {
      t.log(JSON.stringify(await state(page)));
      throw error;
    },
  );
  // A moment more: a late duplicate would show now.
  await sleep(500);
  const seen = await state(page);
  t.deepEqual(seen.got, range(total));
  t.true(seen.opens >= 2, "the EventSource reconnected by itself");
  t.is(seen.readyState, 1, "and is open");
}

test("a plain EventSource gets every message once, in order, across an edge SIGKILL", async (t) => {
  await streamAcross(t, "es.killed", "0", (edge) => edge.kill("SIGKILL"));
});

test("a plain EventSource gets every message once, in order, across an edge drain (it honours retry:)", async (t) => {
  await streamAcross(t, "es.drained", "1", (edge) => edge.kill("SIGTERM"));
});

/** The SDK on a page of another origin, loaded from the edge's /client.js, over SSE only. */
const SDK_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>SDK over SSE</title></head><body>
<script type="module">
  const params = new URLSearchParams(location.search);
  const edge = params.get("edge");
  const { HeraldClient } = await import(edge + "/client.js");
  window.sdk = { got: [], prevs: [], seqs: [], opens: [], subscribed: 0 };
  const client = new HeraldClient({ url: edge, transports: ["sse"], backoff: { initialMs: 100, maxMs: 1000 } });
  client.on("state", (state, change) => state === "open" && sdk.opens.push(change.transport));
  const subscription = client.subscribe(params.get("topic"), (message) => {
    sdk.got.push(message.data.n);
    sdk.prevs.push(message.prev);
    sdk.seqs.push(message.seq);
  });
  subscription.on("subscribed", () => sdk.subscribed++);
</script>
</body></html>`;

async function sdkAcross(
  t: ExecutionContext,
  topic: string,
  drainSeconds: string,
  interrupt: (edge: EdgeProcess) => void,
): Promise<void> {
  const { edges, context } = await anonymousEdgeAndBrowser(t, drainSeconds);
  await context.route(`${APP_ORIGIN}/**`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: SDK_PAGE }),
  );
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(`${APP_ORIGIN}/?edge=${encodeURIComponent(edges.edge().url)}&topic=${topic}`);
  type Seen = { got: number[]; prevs: number[]; seqs: number[]; opens: string[]; subscribed: number };
  const seen = () => page.evaluate(() => (window as unknown as { sdk?: Seen }).sdk);
  // Subscribed live: what is published before the edge confirmed the subscription is not for it
  // (the stream opens before it carries the topic).
  await waitFor("subscribed over SSE", async () => ((await seen())?.subscribed ?? 0) >= 1);
  const total = 60;
  await publishAcrossRestart(edges, topic, total, interrupt);
  await waitFor(`${total} messages`, async () => (await seen())!.got.length >= total, 90_000);
  // A moment more: a late duplicate would show now.
  await sleep(500);
  const state = (await seen())!;
  t.deepEqual(state.got, range(total));
  for (let i = 1; i < state.got.length; i++) t.is(state.prevs[i], state.seqs[i - 1]);
  t.true(state.opens.length >= 2, "it reconnected");
  t.true(
    state.opens.every((transport) => transport === "sse"),
    state.opens.join(","),
  );
  t.deepEqual(errors, []);
}

test("the SDK in Chromium over SSE gets every message once, in order, across an edge SIGKILL", async (t) => {
  await sdkAcross(t, "sdk-sse.killed", "0", (edge) => edge.kill("SIGKILL"));
});

test("the SDK in Chromium over SSE gets every message once, in order, across an edge drain", async (t) => {
  await sdkAcross(t, "sdk-sse.drained", "1", (edge) => edge.kill("SIGTERM"));
});

test("entitlement: a stream refused before it starts stops the EventSource (401 with the JSON error); a forbidden topic gets an err event", async (t) => {
  const edge = await startTestEdge(t, { ...TEST_EDGE_ENV, HERALD_ALLOW_ANONYMOUS: "false" });
  const context = await launchChromium(t);
  const refusedUrl = `${edge.url}/v1/sse?topic=scores.a`;
  const refused = await openPage(context, refusedUrl);
  await waitFor("the EventSource to give up", async () => (await state(refused)).readyState === 2);
  t.is((await state(refused)).errors, 1, "no retry of a refused stream");
  // The same request as the page's own fetch: what a page can read of the refusal.
  const answer = await refused.evaluate(async (url) => {
    const response = await fetch(url);
    return { status: response.status, body: await response.json() };
  }, refusedUrl);
  t.like(answer, { status: 401, body: { error: { code: "unauthenticated" } } });

  const token = await signToken({ subscribe: ["scores.>"] });
  const page = await openPage(context, `${edge.url}/v1/sse?topic=secret.a,scores.a&token=${token}`);
  await waitFor("the refusal and the allowed subok", async () => {
    const seen = await state(page);
    return seen.errs.length === 1 && seen.suboks === 1;
  });
  t.like((await state(page)).errs[0], { code: "forbidden", id: 0 });
  await publishUntilStored(
    () => edge.url,
    { topic: "scores.a", data: { n: 1 }, msgId: "scores-1" },
    TEST_API_KEY,
  );
  await waitFor("the allowed topic's message", async () => (await state(page)).got.length === 1);
});
