// The hub under a small memory budget (edge/common/memory-budget.ts): rings and hand-over buffers
// stay within it whatever is published, the largest topics give up their oldest messages first, and
// nothing is lost for it: resumes that needed the dropped messages read them from the log.
import test from "ava";
import { loadConfig } from "../../shared/config.js";
import { EdgeMetrics } from "../common/metrics.js";
import { MemoryBudget } from "../common/memory-budget.js";
import { EmbeddedBackend } from "../backend/embedded/embedded-backend.js";
import { Hub } from "./hub.js";
import { assertStream, Collector, ObservedBackend, PacedCollector } from "../../e2e/harness/hub-support.js";
import { waitFor } from "../../e2e/harness/wait.js";

const KiB = 1024;

async function setup(t: { teardown(fn: () => unknown): void }, limit: number) {
  const metrics = new EdgeMetrics();
  const embedded = new EmbeddedBackend(loadConfig({ HERALD_MAX_MSGS_PER_TOPIC: "100000" }), metrics);
  await embedded.start();
  const backend = new ObservedBackend(embedded);
  let peak = 0;
  const uses = new Map<string, number>();
  const budget = new MemoryBudget(limit, {
    observe: (use, bytes) => {
      uses.set(use, bytes);
      peak = Math.max(
        peak,
        [...uses.values()].reduce((a, b) => a + b, 0),
      );
    },
  });
  const hub = new Hub(backend, metrics, { cachePerTopic: 1000, historyLimit: 1000, budget });
  t.teardown(async () => {
    hub.close();
    await embedded.close();
  });
  return { embedded, backend, hub, budget, peak: () => peak };
}

const publish = async (backend: EmbeddedBackend, topic: string, count: number, bytes: number) => {
  const seqs: number[] = [];
  for (let i = 0; i < count; i++)
    seqs.push((await backend.publish({ topic, data: JSON.stringify("x".repeat(bytes) + i) })).seq);
  return seqs;
};

test("20 topics of large messages stay within the budget; the rings keep what fits", async (t) => {
  const limit = 512 * KiB;
  const { embedded, hub, budget, peak } = await setup(t, limit);
  const topics = Array.from({ length: 20 }, (_, i) => `big.t${i}`);
  const collectors = topics.map(() => new Collector());
  await Promise.all(topics.map((topic, i) => hub.subscribe(topic, collectors[i]!, undefined)));
  const published = new Map<string, number[]>();
  // 20 × 100 messages of 8 KiB: about 33 MiB held without a budget (frame and data of each).
  for (const topic of topics) published.set(topic, await publish(embedded, topic, 100, 8 * KiB));
  await waitFor("every live message delivered", () =>
    topics.every((topic, i) => collectors[i]!.lastSeq === published.get(topic)!.at(-1)),
  );
  t.true(peak() <= limit, `peak ${peak()} within ${limit}`);
  t.true(budget.usedBy("ring") > limit / 2, "the rings use the budget");
  t.true(budget.evictedBytes > 0, "older messages were dropped");
  t.is(budget.usedBy("handover"), 0);
  for (const [i, topic] of topics.entries())
    assertStream(t, collectors[i]!, { seq: 0, recovered: true }, published.get(topic)!, topic);
});

test("resumes from positions the budget dropped read them from the log: nothing is lost", async (t) => {
  const { embedded, backend, hub, budget } = await setup(t, 256 * KiB);
  const live = [new Collector(), new Collector()];
  await hub.subscribe("drop.a", live[0]!, undefined);
  await hub.subscribe("drop.b", live[1]!, undefined);
  const a = await publish(embedded, "drop.a", 200, 4 * KiB);
  const b = await publish(embedded, "drop.b", 20, 4 * KiB);
  await waitFor("live", () => live[0]!.lastSeq === a.at(-1) && live[1]!.lastSeq === b.at(-1));
  t.true(budget.used <= budget.limit);
  const readsBefore = backend.reads;
  const resumed = new PacedCollector(64 * KiB);
  await hub.subscribe("drop.a", resumed, { epoch: embedded.epoch(), seq: a[9]! });
  await waitFor("resumed", () => resumed.lastSeq === a.at(-1));
  assertStream(t, resumed, { seq: a[9]!, recovered: true }, a.slice(10), "resume");
  t.true(backend.reads > readsBefore, "read from the log");
  t.true(budget.used <= budget.limit);
});

test("a replay running while large live messages arrive keeps its hand-over buffer within the budget", async (t) => {
  const limit = 256 * KiB;
  const { embedded, backend, hub, budget, peak } = await setup(t, limit);
  const before = await publish(embedded, "hand.over", 50, 4 * KiB);
  // The replay's reads are held back while live messages pile up in its hand-over buffer.
  let open!: () => void;
  backend.gate = new Promise((resolve) => (open = resolve));
  const resumed = new PacedCollector(32 * KiB);
  const subscribing = hub.subscribe("hand.over", resumed, { epoch: embedded.epoch(), seq: before[0]! });
  const during = await publish(embedded, "hand.over", 150, 4 * KiB);
  t.true(peak() <= limit, `peak ${peak()} within ${limit}`);
  open();
  backend.gate = undefined;
  await subscribing;
  await waitFor("caught up", () => resumed.lastSeq === during.at(-1));
  assertStream(t, resumed, { seq: before[0]!, recovered: true }, [...before.slice(1), ...during], "replay");
  t.true(budget.used <= limit);
});
