// The browser side of the product promise: pages in headless Chromium load the SDK from
// `/client.js` through the load balancer (served by whichever edge it picks), connect through it,
// and stay subscribed while all three edges behind it are replaced one by one (drain, reconnect
// frames, 1001) and one replacement is SIGKILLed. Every page lists every message of its topic
// once, in order; the stored history holds each msgId once.
import test from "ava";
import { buildClientBundle } from "../../client/build-bundle.js";
import { publishUntilStored, storedMessages } from "../harness/http.js";
import { TEST_API_KEY, TEST_EDGE_ENV } from "../harness/tokens.js";
import { sleep, waitFor } from "../harness/wait.js";
import { listedNumbers, openTestPage, routeTestPage } from "../browser/client-page.js";
import { launchChromium } from "../harness/chromium.js";
import { spawnEdge } from "../harness/edge-process.js";
import { startNats } from "../harness/nats-server.js";
import { startTcpBalancer } from "../harness/tcp-balancer.js";
import { rollEdge } from "./cluster-kit.js";

const TOPICS = ["cluster.browser.page-0", "cluster.browser.page-1", "cluster.browser.page-2"];

// The edges serve edge/public/client.js; build it from the current sources (npm test does too).
test.before(async () => {
  await buildClientBundle();
});

test("pages loading /client.js through the balancer keep every message once, in order, across a rollout and an edge crash", async (t) => {
  t.timeout(180_000);
  const nats = await startNats(t);
  const env = {
    ...TEST_EDGE_ENV,
    HERALD_NATS_URL: nats.url,
    // The pages load /client.js from the edges: the demo files are off by default on NATS.
    HERALD_DEMO: "true",
    HERALD_ALLOW_ANONYMOUS: "true",
    HERALD_DRAIN_SECONDS: "2",
    HERALD_DRAIN_DELAY_MS: "500",
  };
  const spawn = () => spawnEdge(t, env);
  const originals = await Promise.all([spawn(), spawn(), spawn()]);
  const balancer = await startTcpBalancer(
    t,
    originals.map((edge) => edge.port),
  );
  const context = await launchChromium(t);
  // Each page has its own topic: pages of one origin share localStorage, where positions are kept.
  await routeTestPage(context, balancer.url);
  const pages = [];
  for (const topic of TOPICS) pages.push(await openTestPage(context, balancer.url, topic));
  // The page's client's state events, kept in the page.
  const recordStates = () => {
    const page = window as unknown as {
      herald: { client: { on(event: "state", listener: (state: string) => void): void } };
      states: string[];
    };
    page.states = [];
    page.herald.client.on("state", (state) => page.states.push(state));
  };
  for (const page of pages) await page.evaluate(recordStates);

  // Numbers 1, 2, … per topic, round-robin, each with its own msgId, retried until stored.
  const published = new Map<string, number>(TOPICS.map((topic) => [topic, 0]));
  let done = false;
  const publishing = (async () => {
    for (let round = 0; round < 10 || !done; round++) {
      for (const topic of TOPICS) {
        const n = published.get(topic)! + 1;
        await publishUntilStored(
          () => balancer.url,
          { topic, data: { n }, msgId: `${topic}-${n}` },
          TEST_API_KEY,
        );
        published.set(topic, n);
        // Paced, so the history stays within one page of the history API and the retention limit.
        await sleep(25);
      }
    }
  })();
  await waitFor("traffic flowing", () => published.get(TOPICS[0]!)! >= 5);
  let current = [...originals];
  for (const old of originals) {
    const { replacement } = await rollEdge(balancer, old, spawn);
    current = [...current.filter((edge) => edge !== old), replacement];
  }
  // A crash on top: connects to the dead edge fail and the balancer skips it.
  const crashed = current[0]!;
  crashed.kill("SIGKILL");
  await crashed.exited;
  const atCrash = published.get(TOPICS[0]!)!;
  await waitFor("traffic after the crash", () => published.get(TOPICS[0]!)! >= atCrash + 10, 90_000);
  done = true;
  await publishing;

  for (const [i, page] of pages.entries()) {
    const topic = TOPICS[i]!;
    const total = published.get(topic)!;
    await waitFor(
      `${total} messages on page ${i}`,
      async () => (await listedNumbers(page)).length >= total,
      90_000,
    );
    t.deepEqual(
      await listedNumbers(page),
      Array.from({ length: total }, (_, k) => k + 1),
      `page ${i}`,
    );
    t.is(await page.textContent("#state"), "open");
    // Its edge was replaced under it: the page moved at least once and is connected again.
    const states = await page.evaluate(() => (window as unknown as { states: string[] }).states);
    t.true(
      states.includes("reconnecting") && states.at(-1) === "open",
      `page ${i} states: ${states.join(",")}`,
    );
    const stored = await storedMessages(balancer.url, topic, TEST_API_KEY);
    t.deepEqual(
      stored.map((m) => (m.data as { n: number }).n),
      Array.from({ length: total }, (_, k) => k + 1),
      `stored ${topic}`,
    );
    t.deepEqual(
      stored.map((m) => m.prev),
      [0, ...stored.slice(0, -1).map((m) => m.seq)],
      `prev chain of ${topic}`,
    );
  }
  t.log(
    `published ${[...published.values()].join("/")} messages; balancer ${JSON.stringify(balancer.stats())}`,
  );
});
