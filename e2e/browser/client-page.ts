// A minimal page that uses the SDK bundle exactly as an application would: `import ... from
// "/client.js"` served by the edge. It is served at the edge's own origin by Playwright's request
// routing (the edge's files are not touched), lists every delivered message in the DOM, and keeps
// positions in localStorage so a reload resumes.
import type { BrowserContext, Page } from "playwright-core";

export const TEST_PAGE_PATH = "/__herald-client-test.html";

const PAGE = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>herald client test</title></head>
<body>
<p>state: <span id="state">-</span></p>
<ol id="messages"></ol>
<script type="module">
  import { HeraldClient, webStoragePositions } from "/client.js";
  const topic = new URLSearchParams(location.search).get("topic");
  const client = new HeraldClient({
    url: location.origin,
    storage: webStoragePositions({ prefix: "herald-test:" }),
    backoff: { initialMs: 100, maxMs: 1000 },
  });
  client.on("state", (state) => { document.getElementById("state").textContent = state; });
  const subscription = client.subscribe(topic, (message) => {
    const item = document.createElement("li");
    item.textContent = String(message.data.n);
    document.getElementById("messages").append(item);
  });
  window.herald = { client, subscription };
</script>
</body>
</html>`;

/** Serves the test page at `origin` + TEST_PAGE_PATH in this browser context. */
export async function routeTestPage(context: BrowserContext, origin: string): Promise<void> {
  await context.route(`${origin}${TEST_PAGE_PATH}*`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: PAGE }),
  );
}

/** Opens the test page subscribed to `topic` and waits until the edge confirmed the subscription. */
export async function openTestPage(context: BrowserContext, origin: string, topic: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${origin}${TEST_PAGE_PATH}?topic=${encodeURIComponent(topic)}`);
  await waitForSubscription(page);
  return page;
}

/** Waits until the page's subscription has a position (the edge answered subok); names page errors. */
export async function waitForSubscription(page: Page): Promise<void> {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page
    .waitForFunction(
      () =>
        (window as unknown as { herald?: { subscription: { position?: unknown } } }).herald?.subscription
          .position !== undefined,
      undefined,
      {
        timeout: 60_000,
      },
    )
    .catch((error: unknown) => {
      throw new Error(
        `the test page did not subscribe${errors.length ? ` (page errors: ${errors.join("; ")})` : ""}: ${String(error)}`,
      );
    });
}

/** The numbers the page has listed so far, in DOM order. */
export async function listedNumbers(page: Page): Promise<number[]> {
  return page.$$eval("#messages li", (items) => items.map((item) => Number(item.textContent)));
}
