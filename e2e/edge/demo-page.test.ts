// The demo page served at / in real headless Chromium: it subscribes to the topic in the form,
// shows messages live with their seq, and publishes from its form.
import test from "ava";
import { launchChromium } from "../harness/chromium.js";
import { startTestEdge } from "../harness/test-edge.js";
import { postPublish } from "../harness/http.js";

test("demo page: live messages with their seq, publishing from the form", async (t) => {
  const edge = await startTestEdge(t);
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(edge.url);
  await page.locator("#status.up").waitFor({ timeout: 30_000 });

  // Published elsewhere, shown live (the page subscribed to its default topic on load).
  const response = await postPublish(edge.url, { topic: "demo.chat", data: { text: "from curl" } });
  t.is(response.status, 200);
  await page.locator("#messages tr").first().waitFor({ timeout: 30_000 });

  await page.fill("#data", '{"text":"from the form"}');
  await page.click("#publish-form button");
  await page.locator("#messages tr").nth(1).waitFor({ timeout: 30_000 });
  const rows = await page
    .locator("#messages tr")
    .evaluateAll((trs) => trs.map((tr) => Array.from(tr.children, (td) => td.textContent)));
  // Newest first: topic, seq, prev, time, data.
  t.deepEqual(
    rows.map((r) => [r[0], r[1], r[2], r[4]]),
    [
      ["demo.chat", "2", "1", '{"text":"from the form"}'],
      ["demo.chat", "1", "0", '{"text":"from curl"}'],
    ],
  );
  t.is(await page.locator("#log").textContent(), "published as seq 2");
});
