// The SDK bundle (/client.js, built by client/build-bundle.ts and served by the edge) in real
// headless Chromium: live delivery, an edge restart mid-stream (JetStream keeps the log; the new
// edge takes the same port), and a page reload that resumes from the position in localStorage.
import test from "ava";
import { buildClientBundle } from "../../client/build-bundle.js";
import { publish, publishUntilStored, range } from "../harness/http.js";
import { TEST_API_KEY, TEST_EDGE_ENV } from "../harness/tokens.js";
import { waitFor } from "../harness/wait.js";
import { launchChromium } from "../harness/chromium.js";
import { spawnEdge } from "../harness/edge-process.js";
import { freePort } from "../harness/free-port.js";
import { startNats } from "../harness/nats-server.js";
import { startTestEdge } from "../harness/test-edge.js";
import { listedNumbers, openTestPage, routeTestPage, waitForSubscription } from "./client-page.js";

// The edge serves edge/public/client.js; build it from the current sources (npm test does too).
test.before(async () => {
  await buildClientBundle();
});

test("a page using /client.js receives the messages published to its topic, in order", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const context = await launchChromium(t);
  await routeTestPage(context, edge.url);
  const page = await openTestPage(context, edge.url, "browser.live");

  for (const n of range(10)) await publish(edge.url, { topic: "browser.live", data: { n } }, TEST_API_KEY);
  await waitFor("10 messages in the DOM", async () => (await listedNumbers(page)).length >= 10);
  t.deepEqual(await listedNumbers(page), range(10));
  t.is(await page.textContent("#state"), "open");
});

test("a page reload resumes from the position persisted in localStorage", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const context = await launchChromium(t);
  // The edge serves no test page; the route serves ours at the edge's origin, so /client.js and
  // localStorage are same-origin, and answers page.reload()'s request for it again.
  await routeTestPage(context, edge.url);
  const page = await openTestPage(context, edge.url, "browser.reload");
  for (const n of range(5)) await publish(edge.url, { topic: "browser.reload", data: { n } }, TEST_API_KEY);
  await waitFor("1..5 in the DOM", async () => (await listedNumbers(page)).length >= 5);
  t.deepEqual(await listedNumbers(page), range(5));
  // Reload only once the last delivered position is in localStorage, as an app's user would.
  const persisted = () =>
    page.evaluate(() => {
      const stored = localStorage.getItem("herald-test:browser.reload");
      const live = (window as unknown as { herald: { subscription: { position?: { seq: number } } } }).herald
        .subscription.position;
      return stored !== null && (JSON.parse(stored) as { seq: number }).seq === live?.seq;
    });
  await waitFor("the position of message 5 persisted", persisted);

  // A real reload, held at the reloaded page's request for /client.js: by then the old document
  // (and its WebSocket) is gone and the new one has not subscribed yet, so 6..10 are published
  // while no page is listening, and the reloaded page must fetch exactly them from the log.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let bundleRequested = false;
  await context.route(`${edge.url}/client.js`, async (route) => {
    bundleRequested = true;
    await released;
    await route.continue();
  });
  const reloading = page.reload();
  await waitFor("the reloaded page to request /client.js", () => bundleRequested);
  for (const n of range(5, 6))
    await publish(edge.url, { topic: "browser.reload", data: { n } }, TEST_API_KEY);
  release();
  await reloading;
  await waitForSubscription(page);
  await waitFor("6..10 in the reloaded page's DOM", async () => (await listedNumbers(page)).length >= 5);
  // Nothing replayed from before the reload, nothing skipped: with 1..5 above, 1..10 each once, in order.
  t.deepEqual(await listedNumbers(page), range(5, 6));
});

test("the edge is restarted mid-stream on the same port: the page lists every message once, in order", async (t) => {
  const nats = await startNats(t, { jetstream: true });
  const port = await freePort();
  const env = {
    ...TEST_EDGE_ENV,
    HERALD_NATS_URL: nats.url,
    // The page loads /client.js from the edge: the demo files are off by default on NATS.
    HERALD_DEMO: "true",
    HERALD_PORT: String(port),
    HERALD_DRAIN_SECONDS: "0",
    HERALD_ALLOW_ANONYMOUS: "true",
  };
  let edge = await spawnEdge(t, env);
  const context = await launchChromium(t);
  await routeTestPage(context, edge.url);
  const page = await openTestPage(context, edge.url, "browser.restart");

  const total = 60;
  let stored = 0;
  const publishing = (async () => {
    for (const n of range(total)) {
      await publishUntilStored(
        () => edge.url,
        { topic: "browser.restart", data: { n }, msgId: `restart-${n}` },
        TEST_API_KEY,
      );
      stored = n;
    }
  })();
  await waitFor("a third of the stream stored", () => stored >= total / 3);
  edge.kill("SIGKILL");
  await edge.exited;
  edge = await spawnEdge(t, env);
  await publishing;

  await waitFor(
    `${total} messages in the DOM`,
    async () => (await listedNumbers(page)).length >= total,
    90_000,
  );
  t.deepEqual(await listedNumbers(page), range(total));
});
