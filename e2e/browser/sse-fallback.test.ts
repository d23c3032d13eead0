// The SDK in real Chromium, on a page of another origin, behind a proxy that refuses WebSocket
// upgrades: it falls back to Server-Sent Events by itself (fetch with the token in Authorization,
// so CORS preflights included), publishes over HTTP, and loses nothing across a cut of every
// connection — every message once, in order.
import test from "ava";
import { buildClientBundle } from "../../client/build-bundle.js";
import { launchChromium } from "../harness/chromium.js";
import { startHttpProxy } from "../harness/http-proxy.js";
import { publish, range } from "../harness/http.js";
import { startTestEdge } from "../harness/test-edge.js";
import { signToken, TEST_API_KEY, TEST_EDGE_ENV } from "../harness/tokens.js";
import { sleep, waitFor } from "../harness/wait.js";

const APP_ORIGIN = "http://app.herald.test";

test.before(async () => {
  await buildClientBundle();
});

test("behind a proxy that refuses WebSocket upgrades, a page's SDK falls back to SSE and loses nothing", async (t) => {
  const edge = await startTestEdge(t, { ...TEST_EDGE_ENV, HERALD_ALLOW_ANONYMOUS: "false" });
  const proxy = await startHttpProxy(t, { port: edge.port });
  proxy.refuseUpgrades(true);
  const token = await signToken({ subscribe: ["fallback.>"], publish: ["fallback.>"] });
  const page = `<!doctype html><meta charset="utf-8"><script type="module">
    import { HeraldClient } from "${proxy.url}/client.js";
    window.got = [];
    const client = new HeraldClient({ url: "${proxy.url}", token: async () => "${token}", backoff: { initialMs: 100, maxMs: 500 } });
    window.client = client;
    const subscription = client.subscribe("fallback.page", (message) => window.got.push(message.data.n));
    // Live from when it is in force: publish once it is.
    subscription.ready().then(() => client.publish("fallback.page", { n: 1 }, { msgId: "page-1" })).then((result) => (window.published = result));
  </script>`;
  const context = await launchChromium(t);
  await context.route(`${APP_ORIGIN}/**`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: page }),
  );
  const browser = await context.newPage();
  const errors: string[] = [];
  browser.on("pageerror", (error) => errors.push(error.message));
  await browser.goto(`${APP_ORIGIN}/`);
  const seen = () =>
    browser.evaluate(() => {
      const w = window as unknown as {
        got: number[];
        published?: { dup: boolean };
        client: { transport?: string };
      };
      return { got: w.got, published: w.published, transport: w.client.transport };
    });
  // The message may arrive over SSE before the publish's HTTP answer: wait for both.
  await waitFor("the page's own publish answered and delivered", async () => {
    const now = await seen();
    return now.got.length === 1 && now.published !== undefined;
  });
  t.like(await seen(), { transport: "sse", published: { dup: false } });
  t.true(proxy.upgrades().refused >= 2);

  for (const n of range(5, 2)) await publish(edge.url, { topic: "fallback.page", data: { n } }, TEST_API_KEY);
  await waitFor("1..6", async () => (await seen()).got.length === 6);
  proxy.cutAll();
  for (const n of range(4, 7)) await publish(edge.url, { topic: "fallback.page", data: { n } }, TEST_API_KEY);
  await waitFor("1..10 after the cut", async () => (await seen()).got.length >= 10);
  // A moment more: a late duplicate would show now.
  await sleep(500);
  t.deepEqual((await seen()).got, range(10));
  t.is((await seen()).transport, "sse");
  t.deepEqual(errors, []);
});
