// The demo page at / (edge/public), which runs on the SDK bundle: it lists what is published to its
// topic and publishes from its form, in real headless Chromium.
import test from "ava";
import { buildClientBundle } from "../../client/build-bundle.js";
import { publish, range, storedMessages } from "../harness/http.js";
import { TEST_API_KEY, TEST_EDGE_ENV } from "../harness/tokens.js";
import { waitFor } from "../harness/wait.js";
import { launchChromium } from "../harness/chromium.js";
import { startTestEdge } from "../harness/test-edge.js";

test.before(async () => {
  await buildClientBundle();
});

test("the demo page receives messages and publishes from its form", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const context = await launchChromium(t);
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  await page.goto(`${edge.url}/`);
  await page.waitForFunction(
    () => document.getElementById("status")?.textContent === "connected",
    undefined,
    { timeout: 60_000 },
  );

  // The page subscribed to its default topic; give the subscription time to be confirmed by
  // publishing until the first message shows up, then publish the rest.
  const rows = () => page.$$eval("#messages tr td.data", (cells) => cells.map((cell) => cell.textContent));
  await waitFor("the demo subscription", async () => {
    await publish(edge.url, { topic: "demo.chat", data: { n: 0 } }, TEST_API_KEY);
    return (await rows()).length > 0;
  });
  for (const n of range(5)) await publish(edge.url, { topic: "demo.chat", data: { n } }, TEST_API_KEY);
  // Until the last one published is the newest row (the first of the five may show before the rest).
  await waitFor("5 more rows", async () => (await rows())[0] === JSON.stringify({ n: 5 }));
  // Newest first.
  t.deepEqual(
    (await rows()).slice(0, 5),
    range(5)
      .reverse()
      .map((n) => JSON.stringify({ n })),
  );

  await page.fill("#data", '{"n":6}');
  await page.click("#publish-form button");
  await waitFor("the published row", async () => (await rows())[0] === '{"n":6}');
  t.regex((await page.textContent("#log")) ?? "", /^published as seq \d+$/);
  const stored = await storedMessages(edge.url, "demo.chat", TEST_API_KEY);
  t.deepEqual(stored.at(-1)?.data, { n: 6 });
  t.deepEqual(pageErrors, []);
});
