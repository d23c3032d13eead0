// The SDK bundle (/client.js, built by client/build-bundle.ts and served by the edge) in real
// headless Chromium: live delivery, an edge restart mid-stream (JetStream keeps the log; the new
// edge takes the same port), and a page reload that resumes from the position in localStorage.
import test from "ava";
import { buildClientBundle } from "../../client/build-bundle.js";
import { publishHttp, publishUntilStored, range, TEST_EDGE_ENV, waitFor } from "../../client/test-helpers.js";
import { launchChromium } from "../harness/chromium.js";
import { spawnEdge } from "../harness/edge-process.js";
import { freePort } from "../harness/free-port.js";
import { startNats } from "../harness/nats-server.js";
import { startTestEdge } from "../harness/test-edge.js";
import { listedNumbers, openTestPage, routeTestPage } from "./client-page.js";

// The edge serves edge/public/client.js; build it from the current sources (npm test does too).
test.before(async () => {
  await buildClientBundle();
});

test("a page using /client.js receives the messages published to its topic, in order", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const context = await launchChromium(t);
  await routeTestPage(context, edge.url);
  const page = await openTestPage(context, edge.url, "browser.live");

  for (const n of range(10)) await publishHttp(edge.url, "browser.live", { n });
  await waitFor("10 messages in the DOM", async () => (await listedNumbers(page)).length >= 10);
  t.deepEqual(await listedNumbers(page), range(10));
  t.is(await page.textContent("#state"), "open");
});

test("a page reload resumes from the position persisted in localStorage", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const context = await launchChromium(t);
  await routeTestPage(context, edge.url);
  const page = await openTestPage(context, edge.url, "browser.reload");
  for (const n of range(5)) await publishHttp(edge.url, "browser.reload", { n });
  await waitFor("5 messages in the DOM", async () => (await listedNumbers(page)).length >= 5);
  t.deepEqual(await listedNumbers(page), range(5));

  // The page is gone while 6..10 are published; on its return it must pick up exactly those.
  await page.goto("about:blank");
  for (const n of range(5, 6)) await publishHttp(edge.url, "browser.reload", { n });
  await openTestPage(context, edge.url, "browser.reload", page);
  await waitFor("6..10 in the DOM", async () => (await listedNumbers(page)).length >= 5);
  t.deepEqual(await listedNumbers(page), range(5, 6));
  const stored = await page.evaluate(() => localStorage.getItem("herald-test:browser.reload"));
  t.truthy(stored);
});

test("the edge is restarted mid-stream on the same port: the page lists every message once, in order", async (t) => {
  const nats = await startNats(t, { jetstream: true });
  const port = await freePort();
  const env = { ...TEST_EDGE_ENV, HERALD_NATS_URL: nats.url, HERALD_PORT: String(port), HERALD_DRAIN_SECONDS: "0", HERALD_ALLOW_ANONYMOUS: "true" };
  let edge = await spawnEdge(t, env);
  const context = await launchChromium(t);
  await routeTestPage(context, edge.url);
  const page = await openTestPage(context, edge.url, "browser.restart");

  const total = 60;
  let stored = 0;
  const publishing = (async () => {
    for (const n of range(total)) {
      await publishUntilStored(() => edge.url, "browser.restart", { n }, `restart-${n}`);
      stored = n;
    }
  })();
  await waitFor("a third of the stream stored", () => stored >= total / 3);
  edge.kill("SIGKILL");
  await edge.exited;
  edge = await spawnEdge(t, env);
  await publishing;

  await waitFor(`${total} messages in the DOM`, async () => (await listedNumbers(page)).length >= total, 90_000);
  t.deepEqual(await listedNumbers(page), range(total));
});
