// The hub over the real embedded log: fan-out, resume from the ring and from the log, hand-over
// while publishing, last:K, recovered:false, single-flight, resets and unsubscribe semantics.
import test from "ava";
import { loadConfig } from "../../shared/config.js";
import { EdgeMetrics } from "../common/metrics.js";
import { BackendUnavailableError, type LiveHandlers } from "../backend/backend.js";
import { EmbeddedBackend } from "../backend/embedded/embedded-backend.js";
import { Hub, type HubOptions } from "./hub.js";
import { Collector, ObservedBackend, assertStream } from "../../e2e/harness/hub-support.js";
import { waitFor } from "../../e2e/harness/wait.js";

interface Setup {
  embedded: EmbeddedBackend;
  backend: ObservedBackend;
  metrics: EdgeMetrics;
  hub: Hub;
}

async function setup(
  t: { teardown(fn: () => unknown): void },
  options: Partial<HubOptions> = {},
  env: Record<string, string> = {},
): Promise<Setup> {
  const metrics = new EdgeMetrics();
  const embedded = new EmbeddedBackend(loadConfig(env), metrics);
  await embedded.start();
  const backend = new ObservedBackend(embedded);
  const hub = new Hub(backend, metrics, { cachePerTopic: 1000, historyLimit: 1000, ...options });
  t.teardown(async () => {
    hub.close();
    await embedded.close();
  });
  return { embedded, backend, metrics, hub };
}

async function publishMany(backend: EmbeddedBackend, topic: string, count: number): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < count; i++)
    seqs.push((await backend.publish({ topic, data: JSON.stringify({ topic, i }) })).seq);
  return seqs;
}

async function metric(
  metrics: EdgeMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const found = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values =
    found?.values.filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value)) ?? [];
  return values.reduce((sum, v) => sum + v.value, 0);
}

test("1,000 subscribers of one topic each receive every message once, in order, with an unbroken prev chain", async (t) => {
  const { embedded, hub, metrics } = await setup(t);
  const collectors = Array.from({ length: 1000 }, () => new Collector());
  await Promise.all(collectors.map((c, i) => hub.subscribe("fan.one", c, undefined, i)));
  t.is(await metric(metrics, "herald_subscriptions"), 1000);
  t.is(await metric(metrics, "herald_topics"), 1);
  const seqs = await publishMany(embedded, "fan.one", 200);
  await waitFor("every message everywhere", () => collectors.every((c) => c.lastSeq === seqs.at(-1)));
  collectors.forEach((c, i) =>
    assertStream(
      t,
      c,
      { id: i, topic: "fan.one", seq: 0, recovered: true, epoch: embedded.epoch() },
      seqs,
      `subscriber ${i}`,
    ),
  );
  t.is(await metric(metrics, "herald_deliveries_total"), 200_000);
});

test("100 topics with 10 subscribers each: every subscriber gets exactly its topic's messages", async (t) => {
  const { embedded, hub, metrics } = await setup(t);
  const topics = Array.from({ length: 100 }, (_, i) => `many.topic-${i}`);
  const collectors = new Map(
    topics.map((topic) => [topic, Array.from({ length: 10 }, () => new Collector())]),
  );
  await Promise.all(
    topics.flatMap((topic) => collectors.get(topic)!.map((c) => hub.subscribe(topic, c, undefined))),
  );
  t.is(await metric(metrics, "herald_topics"), 100);
  const expected = new Map<string, number[]>(topics.map((topic) => [topic, []]));
  for (let round = 0; round < 20; round++) {
    await Promise.all(
      topics.map(async (topic) => {
        const { seq } = await embedded.publish({ topic, data: JSON.stringify(round) });
        expected.get(topic)!.push(seq);
      }),
    );
  }
  for (const seqs of expected.values()) seqs.sort((a, b) => a - b);
  await waitFor("every message", () =>
    topics.every((topic) => collectors.get(topic)!.every((c) => c.lastSeq === expected.get(topic)!.at(-1))),
  );
  for (const topic of topics) {
    for (const c of collectors.get(topic)!) {
      assertStream(t, c, { topic, seq: 0, recovered: true }, expected.get(topic)!, topic);
      t.true(c.messages.every((m) => m.topic === topic));
    }
  }
});

test("live only: subok carries the head; nothing older is replayed", async (t) => {
  const { embedded, hub } = await setup(t);
  const before = await publishMany(embedded, "head.topic", 3);
  const c = new Collector();
  await hub.subscribe("head.topic", c, undefined, "req-1");
  const after = await publishMany(embedded, "head.topic", 2);
  await waitFor("live messages", () => c.messages.length === 2);
  assertStream(t, c, { id: "req-1", seq: before.at(-1)!, recovered: true, epoch: embedded.epoch() }, after);
});

test("resume from the ring: messages after the position, then live, with no backend read", async (t) => {
  const { embedded, hub, backend, metrics } = await setup(t, { cachePerTopic: 50 });
  const live = new Collector();
  await hub.subscribe("ring.topic", live, undefined);
  const seqs = await publishMany(embedded, "ring.topic", 30);
  await waitFor("the live subscriber", () => live.lastSeq === seqs.at(-1));
  const readsBefore = backend.reads;
  const resumed = new Collector();
  await hub.subscribe("ring.topic", resumed, { epoch: embedded.epoch(), seq: seqs[9]! }, 7);
  const more = await publishMany(embedded, "ring.topic", 5);
  await waitFor("the resumed subscriber", () => resumed.lastSeq === more.at(-1));
  assertStream(t, resumed, { id: 7, seq: seqs[9]!, recovered: true }, [...seqs.slice(10), ...more]);
  t.is(backend.reads, readsBefore);
  t.is(await metric(metrics, "herald_ring_hits_total"), 1);
  t.is(await metric(metrics, "herald_ring_misses_total"), 0);
});

test("resume from the backend beyond the ring, in pages of historyLimit", async (t) => {
  const { embedded, hub, metrics } = await setup(t, { cachePerTopic: 5, historyLimit: 3 });
  const seqs = await publishMany(embedded, "deep.topic", 40);
  const c = new Collector();
  await hub.subscribe("deep.topic", c, { epoch: embedded.epoch(), seq: seqs[1]! });
  const more = await publishMany(embedded, "deep.topic", 3);
  await waitFor("the replay and live", () => c.lastSeq === more.at(-1));
  assertStream(t, c, { seq: seqs[1]!, recovered: true }, [...seqs.slice(2), ...more]);
  t.is(await metric(metrics, "herald_ring_misses_total"), 1);
  t.true(
    (await metric(metrics, "herald_backend_reads_total", { kind: "resume" })) >= 12,
    "38 messages in pages of 3",
  );
});

test("resume at a position the log still has but the live feed has not delivered yet", async (t) => {
  const { embedded, hub, backend } = await setup(t);
  const watcher = new Collector();
  await hub.subscribe("lag.topic", watcher, undefined);
  backend.liveDelayMs = () => 30;
  const published = await publishMany(embedded, "lag.topic", 3);
  // Acknowledged by the log, not yet delivered by the feed: the edge's head is behind the position.
  t.is(watcher.messages.length, 0);
  const c = new Collector();
  await hub.subscribe("lag.topic", c, { epoch: embedded.epoch(), seq: published[1]! });
  const next = await publishMany(embedded, "lag.topic", 2);
  await waitFor("live messages", () => c.lastSeq === next.at(-1) && watcher.lastSeq === next.at(-1));
  assertStream(t, c, { seq: published[1]!, recovered: true }, [published[2]!, ...next]);
  assertStream(t, watcher, { seq: 0, recovered: true }, [...published, ...next]);
});

for (const cachePerTopic of [0, 16]) {
  test(`hand-over while publishing concurrently, slow backend reads, ring of ${cachePerTopic}: no gap, no duplicate`, async (t) => {
    const { embedded, hub, backend } = await setup(t, { cachePerTopic, historyLimit: 7 });
    backend.readDelayMs = () => Math.floor(Math.random() * 15);
    const topic = "handover.topic";
    const published: number[] = [];
    // `after` is the exact resume position, or for last:K the earliest position the subok may carry
    // (the subscribe runs while publishing goes on, so K counts back from a later head).
    const subscribers: { collector: Collector; after: number; kind: string; exact: boolean }[] = [];
    const subscribes: Promise<unknown>[] = [];
    for (let i = 0; i < 600; i++) {
      published.push((await embedded.publish({ topic, data: JSON.stringify(i) })).seq);
      if (i % 25 === 10) {
        // A mix: just behind (ring), far behind (log), the last K, live only.
        const back = [1, 5, 40, 300][((i / 25) % 4) | 0]!;
        const position = published[Math.max(0, published.length - 1 - back)]!;
        const collector = new Collector();
        subscribers.push({ collector, after: position, kind: `after ${back} back`, exact: true });
        subscribes.push(hub.subscribe(topic, collector, { epoch: embedded.epoch(), seq: position }));
        const lastCollector = new Collector();
        const k = [3, 50][i % 2]!;
        subscribers.push({
          collector: lastCollector,
          after: published[published.length - 1 - k] ?? 0,
          kind: `last ${k}`,
          exact: false,
        });
        subscribes.push(hub.subscribe(topic, lastCollector, { last: k }));
      }
    }
    await Promise.all(subscribes);
    const head = published.at(-1)!;
    await waitFor("every subscriber at the head", () =>
      subscribers.every((s) => s.collector.lastSeq === head),
    );
    for (const { collector, after, kind, exact } of subscribers) {
      const start = exact ? after : (collector.suboks[0]?.seq ?? -1);
      t.true(
        start >= after && (start === 0 || published.includes(start)),
        `${kind} starts at a real position: ${start} after ${after}`,
      );
      assertStream(
        t,
        collector,
        { seq: start, recovered: true },
        published.filter((s) => s > start),
        kind,
      );
    }
  });
}

test("last:K from the ring, from the log, more than retained, zero, and on an empty topic", async (t) => {
  const { embedded, hub, metrics } = await setup(
    t,
    { cachePerTopic: 5, historyLimit: 4 },
    { HERALD_MAX_MSGS_PER_TOPIC: "20" },
  );
  const keep = new Collector();
  await hub.subscribe("last.topic", keep, undefined);
  const seqs = await publishMany(embedded, "last.topic", 30);
  await waitFor("the live subscriber", () => keep.lastSeq === seqs.at(-1));
  const cases: [number, number[]][] = [
    [3, seqs.slice(-3)],
    [12, seqs.slice(-12)],
    [100, seqs.slice(-20)],
    [0, []],
  ];
  for (const [k, expected] of cases) {
    const c = new Collector();
    await hub.subscribe("last.topic", c, { last: k }, `last-${k}`);
    await waitFor(`last ${k}`, () => c.messages.length === expected.length);
    const start = expected.length > 0 ? seqs[seqs.indexOf(expected[0]!) - 1]! : seqs.at(-1)!;
    assertStream(t, c, { id: `last-${k}`, seq: start, recovered: true }, expected, `last ${k}`);
  }
  t.is(await metric(metrics, "herald_ring_hits_total"), 2, "last 3 and last 0 from the ring");
  const empty = new Collector();
  await hub.subscribe("last.empty", empty, { last: 10 });
  assertStream(t, empty, { seq: 0, recovered: true }, []);
  const first = await publishMany(embedded, "last.empty", 1);
  await waitFor("the first message", () => empty.messages.length === 1);
  assertStream(t, empty, { seq: 0, recovered: true }, first);
});

test("recovered:false for another epoch, outside retention, beyond the head, and a position that is not a seq of the topic", async (t) => {
  const { embedded, hub } = await setup(
    t,
    { cachePerTopic: 3, historyLimit: 10 },
    { HERALD_MAX_MSGS_PER_TOPIC: "5" },
  );
  const seqs = await publishMany(embedded, "lost.topic", 10);
  const other = (await embedded.publish({ topic: "lost.other", data: "0" })).seq;
  const more = await publishMany(embedded, "lost.topic", 2);
  const head = more.at(-1)!;
  const positions: [string, { epoch: string; seq: number }][] = [
    ["another epoch", { epoch: "not-this-epoch", seq: seqs[8]! }],
    ["outside retention", { epoch: embedded.epoch(), seq: seqs[2]! }],
    ["beyond the head", { epoch: embedded.epoch(), seq: head + 1000 }],
    ["not a seq of the topic", { epoch: embedded.epoch(), seq: other }],
  ];
  const collectors = await Promise.all(
    positions.map(async ([name, from]) => {
      const c = new Collector();
      await hub.subscribe("lost.topic", c, from, name);
      return c;
    }),
  );
  const live = await publishMany(embedded, "lost.topic", 2);
  await waitFor("live messages", () => collectors.every((c) => c.lastSeq === live.at(-1)));
  collectors.forEach((c, i) =>
    assertStream(
      t,
      c,
      { id: positions[i]![0], seq: head, recovered: false, epoch: embedded.epoch() },
      live,
      positions[i]![0],
    ),
  );
  // The edge of retention: the prev of the oldest retained message is still recoverable.
  const edge = new Collector();
  const retained = (await embedded.read("lost.topic", { after: 0, orOldest: true }, 100)).messages;
  await hub.subscribe("lost.topic", edge, { epoch: embedded.epoch(), seq: retained[0]!.prev });
  await waitFor("the replay", () => edge.lastSeq === live.at(-1));
  assertStream(
    t,
    edge,
    { seq: retained[0]!.prev, recovered: true },
    retained.map((m) => m.seq),
  );
  t.deepEqual(
    retained.slice(-2).map((m) => m.seq),
    live,
  );
});

test("single-flight: 2,000 resumes on 50 topics to a fresh edge cost one read per topic", async (t) => {
  const { embedded, metrics } = await setup(t);
  const topics = Array.from({ length: 50 }, (_, i) => `storm.topic-${i}`);
  const published = new Map<string, number[]>();
  for (const topic of topics) published.set(topic, await publishMany(embedded, topic, 120));
  // A fresh edge over the same log: nothing in its rings yet.
  const backend = new ObservedBackend(embedded);
  const hub = new Hub(backend, metrics, { cachePerTopic: 1000, historyLimit: 1000 });
  t.teardown(() => hub.close());
  const clients = topics.flatMap((topic) =>
    Array.from({ length: 40 }, (_, i) => {
      const seqs = published.get(topic)!;
      return { topic, collector: new Collector(), after: seqs[seqs.length - 1 - ((i * 7) % 100)]! };
    }),
  );
  await Promise.all(
    clients.map((c) => hub.subscribe(c.topic, c.collector, { epoch: embedded.epoch(), seq: c.after })),
  );
  t.is(backend.reads, 50);
  t.is(await metric(metrics, "herald_backend_reads_total", { kind: "backfill" }), 50);
  t.is(await metric(metrics, "herald_ring_hits_total"), 2000);
  for (const topic of topics)
    published.get(topic)!.push((await embedded.publish({ topic, data: '"after the storm"' })).seq);
  await waitFor("every client at its head", () =>
    clients.every((c) => c.collector.lastSeq === published.get(c.topic)!.at(-1)),
  );
  for (const c of clients)
    assertStream(
      t,
      c.collector,
      { seq: c.after, recovered: true },
      published.get(c.topic)!.filter((s) => s > c.after),
    );
});

test("single-flight beyond the ring: concurrent resumes at one old position share one read", async (t) => {
  const { embedded, metrics } = await setup(t);
  const seqs = await publishMany(embedded, "old.topic", 200);
  const backend = new ObservedBackend(embedded);
  const hub = new Hub(backend, metrics, { cachePerTopic: 10, historyLimit: 1000 });
  t.teardown(() => hub.close());
  const collectors = Array.from({ length: 100 }, () => new Collector());
  await Promise.all(
    collectors.map((c) => hub.subscribe("old.topic", c, { epoch: embedded.epoch(), seq: seqs[50]! })),
  );
  t.is(backend.reads, 2, "one backfill of the ring and one shared range read");
  for (const c of collectors) assertStream(t, c, { seq: seqs[50]!, recovered: true }, seqs.slice(51));
});

test("single-flight for last:K: many concurrent last:K subscribes to a fresh edge share the ring backfill", async (t) => {
  const { embedded, metrics } = await setup(t);
  const seqs = await publishMany(embedded, "lastk.storm", 300);
  const backend = new ObservedBackend(embedded);
  const hub = new Hub(backend, metrics, { cachePerTopic: 100, historyLimit: 1000 });
  t.teardown(() => hub.close());
  // K from 0 to 100: all within the ring once it is backfilled.
  const ks = Array.from({ length: 500 }, (_, i) => (i * 13) % 101);
  const collectors = ks.map(() => new Collector());
  await Promise.all(collectors.map((c, i) => hub.subscribe("lastk.storm", c, { last: ks[i]! })));
  t.is(backend.reads, 1);
  collectors.forEach((c, i) => {
    const k = ks[i]!;
    assertStream(
      t,
      c,
      { seq: seqs[seqs.length - 1 - k]!, recovered: true },
      seqs.slice(seqs.length - k),
      `last ${k}`,
    );
  });
});

test("a slow backend read delays only the subscriber that needs it", async (t) => {
  const { embedded, hub, backend } = await setup(t, { cachePerTopic: 2 });
  const seqs = await publishMany(embedded, "slow.topic", 10);
  const live = new Collector();
  await hub.subscribe("slow.topic", live, undefined);
  let release!: () => void;
  backend.gate = new Promise((resolve) => (release = resolve));
  const resumed = new Collector();
  const resuming = hub.subscribe("slow.topic", resumed, { epoch: embedded.epoch(), seq: seqs[0]! });
  const during = await publishMany(embedded, "slow.topic", 20);
  await waitFor("the live subscriber", () => live.lastSeq === during.at(-1));
  t.is(resumed.frames.length, 0, "the resume is still waiting for the log");
  release();
  backend.gate = undefined;
  await resuming;
  await waitFor("the resumed subscriber", () => resumed.lastSeq === during.at(-1));
  assertStream(t, live, { seq: seqs.at(-1)!, recovered: true }, during);
  assertStream(t, resumed, { seq: seqs[0]!, recovered: true }, [...seqs.slice(1), ...during]);
});

test("a reset of the log restarts every subscriber at the new head with recovered:false", async (t) => {
  const { embedded, hub } = await setup(t, { cachePerTopic: 100 });
  const before = await publishMany(embedded, "reset.topic", 5);
  const collectors = [new Collector(), new Collector()];
  await hub.subscribe("reset.topic", collectors[0]!, undefined, "a");
  await hub.subscribe("reset.topic", collectors[1]!, { epoch: embedded.epoch(), seq: before[1]! }, "b");
  const oldEpoch = embedded.epoch();
  embedded.recreate();
  const after = await publishMany(embedded, "reset.topic", 3);
  await waitFor("messages of the new history", () => collectors.every((c) => c.lastSeq === after.at(-1)));
  for (const [i, c] of collectors.entries()) {
    const reset = c.frames.findIndex((f, index) => index > 0 && f.op === "subok");
    t.like(c.frames[reset], {
      op: "subok",
      id: ["a", "b"][i],
      epoch: embedded.epoch(),
      seq: 0,
      recovered: false,
    });
    t.deepEqual(
      c.frames.slice(reset + 1).map((f) => f.op === "msg" && [f.prev, f.seq]),
      [
        [0, after[0]],
        [after[0], after[1]],
        [after[1], after[2]],
      ],
    );
    t.like(c.frames[0], { op: "subok", epoch: oldEpoch, recovered: true });
  }
  // The ring was cleared: an old-epoch position is not served from it.
  const stale = new Collector();
  await hub.subscribe("reset.topic", stale, { epoch: oldEpoch, seq: before[4]! });
  assertStream(t, stale, { seq: after.at(-1)!, recovered: false, epoch: embedded.epoch() }, []);
  // A resume in the new history is served exactly.
  const fresh = new Collector();
  await hub.subscribe("reset.topic", fresh, { epoch: embedded.epoch(), seq: after[0]! });
  assertStream(t, fresh, { seq: after[0]!, recovered: true }, after.slice(1));
});

test("unsubscribing one subscriber leaves the others intact; the feed closes with the last one", async (t) => {
  const { embedded, hub, backend, metrics } = await setup(t);
  const a = new Collector();
  const b = new Collector();
  const subA = await hub.subscribe("unsub.topic", a, undefined);
  const subB = await hub.subscribe("unsub.topic", b, undefined);
  t.is(backend.openFeeds, 1, "one feed per topic, however many subscribers");
  const first = await publishMany(embedded, "unsub.topic", 3);
  await waitFor("both", () => a.lastSeq === first.at(-1) && b.lastSeq === first.at(-1));
  subA.close();
  subA.close();
  t.is(await metric(metrics, "herald_subscriptions"), 1);
  const second = await publishMany(embedded, "unsub.topic", 3);
  await waitFor("b", () => b.lastSeq === second.at(-1));
  assertStream(t, a, { seq: 0 }, first);
  assertStream(t, b, { seq: 0 }, [...first, ...second]);
  t.is(backend.openFeeds, 1);
  subB.close();
  t.is(backend.openFeeds, 0, "the last unsubscribe closes the feed");
  t.is(await metric(metrics, "herald_topics"), 0);
  t.is(await metric(metrics, "herald_subscriptions"), 0);
  await publishMany(embedded, "unsub.topic", 2);
  await new Promise((resolve) => setImmediate(resolve));
  t.is(b.messages.length, 6, "nothing after unsubscribe");
  // Subscribing again opens a new feed at the current head.
  const c = new Collector();
  await hub.subscribe("unsub.topic", c, { epoch: embedded.epoch(), seq: second.at(-1)! });
  t.is(backend.openFeeds, 1);
  t.is(backend.feedsOpened, 2);
  const third = await publishMany(embedded, "unsub.topic", 1);
  await waitFor("c", () => c.lastSeq === third[0]);
  t.is(c.messages.length, 3, "two messages published while nobody listened, then the new one");
});

test("a gap in the live feed is repaired from the log for every subscriber", async (t) => {
  const { embedded, hub, backend, metrics } = await setup(t, { cachePerTopic: 10 });
  const collectors = [new Collector(), new Collector(), new Collector()];
  for (const c of collectors) await hub.subscribe("gap.topic", c, undefined);
  let count = 0;
  backend.loseLive = () => ++count === 3 || count === 4;
  const seqs = await publishMany(embedded, "gap.topic", 8);
  await waitFor("every message", () => collectors.every((c) => c.lastSeq === seqs.at(-1)));
  for (const c of collectors) assertStream(t, c, { seq: 0, recovered: true }, seqs);
  t.is(await metric(metrics, "herald_gap_repairs_total"), 1);
  // The ring restarted after the gap: a resume before it is served from the log, exactly.
  const resumed = new Collector();
  await hub.subscribe("gap.topic", resumed, { epoch: embedded.epoch(), seq: seqs[0]! });
  assertStream(t, resumed, { seq: seqs[0]!, recovered: true }, seqs.slice(1));
});

test("a subscriber whose send throws does not disturb the others", async (t) => {
  const { embedded, hub } = await setup(t);
  const good = [new Collector(), new Collector()];
  await hub.subscribe("throw.topic", good[0]!, undefined);
  await hub.subscribe(
    "throw.topic",
    {
      send: () => {
        throw new Error("socket gone");
      },
    },
    undefined,
  );
  await hub.subscribe("throw.topic", good[1]!, undefined);
  const seqs = await publishMany(embedded, "throw.topic", 20);
  await waitFor("the good subscribers", () => good.every((c) => c.lastSeq === seqs.at(-1)));
  for (const c of good) assertStream(t, c, { seq: 0 }, seqs);
});

test("history reads the ring for a full page and the backend otherwise", async (t) => {
  const { embedded, hub, backend } = await setup(t, { cachePerTopic: 20 });
  const seqs = await publishMany(embedded, "history.topic", 5);
  const live = new Collector();
  await hub.subscribe("history.topic", live, undefined);
  const more = await publishMany(embedded, "history.topic", 30);
  await waitFor("live", () => live.lastSeq === more.at(-1));
  const readsBefore = backend.reads;
  const fromRing = await hub.history("history.topic", more[15]!, 5);
  t.deepEqual(
    fromRing.messages.map((m) => m.seq),
    more.slice(16, 21),
  );
  t.like(fromRing, { recovered: true, epoch: embedded.epoch(), head: more.at(-1)! });
  t.is(backend.reads, readsBefore);
  const fromLog = await hub.history("history.topic", 0, 10);
  t.deepEqual(
    fromLog.messages.map((m) => m.seq),
    [...seqs, ...more.slice(0, 5)],
  );
  t.is(backend.reads, readsBefore + 1);
  // A short page comes from the log: it must mean "nothing more".
  const tail = await hub.history("history.topic", more[27]!, 10);
  t.deepEqual(
    tail.messages.map((m) => m.seq),
    more.slice(28),
  );
  t.is(backend.reads, readsBefore + 2);
});

test("subscribe rejects with BackendUnavailableError when the log is unreachable, and leaves nothing behind", async (t) => {
  const { embedded, hub, metrics } = await setup(t);
  await embedded.close();
  const c = new Collector();
  await t.throwsAsync(hub.subscribe("down.topic", c, undefined), { instanceOf: BackendUnavailableError });
  await t.throwsAsync(hub.history("down.topic", 0, 10), { instanceOf: BackendUnavailableError });
  t.deepEqual(c.frames, []);
  t.is(await metric(metrics, "herald_topics"), 0);
  t.is(await metric(metrics, "herald_subscriptions"), 0);
});

test("closing the hub closes every feed, also with a subscribe in flight, and keeps the gauges exact", async (t) => {
  const { embedded, hub, backend, metrics } = await setup(t, { cachePerTopic: 2 });
  const seqs = await publishMany(embedded, "close.topic", 10);
  const active = await hub.subscribe("close.topic", new Collector(), undefined);
  await hub.subscribe("close.other", new Collector(), undefined);
  let release!: () => void;
  backend.gate = new Promise((resolve) => (release = resolve));
  const pending = hub.subscribe("close.topic", new Collector(), { epoch: embedded.epoch(), seq: seqs[0]! });
  await waitFor("the resume to reach the log", () => backend.reads > 0);
  hub.close();
  release();
  await t.throwsAsync(pending, { instanceOf: BackendUnavailableError });
  active.close();
  t.is(backend.openFeeds, 0);
  t.is(await metric(metrics, "herald_subscriptions"), 0);
  t.is(await metric(metrics, "herald_topics"), 0);
  await t.throwsAsync(hub.subscribe("close.topic", new Collector(), undefined), {
    instanceOf: BackendUnavailableError,
  });
});

test("a reset in the same epoch to the head a subscriber stands at tells it nothing; one behind it gets recovered:false", async (t) => {
  // Found by the guarantee checker (e2e/guarantee, R3 with short retention): a JetStream feed that
  // repaired a gap resets at the head, and every subscriber got recovered:false, also those that
  // already had every message up to that head (a needless resync for the application).
  const metrics = new EdgeMetrics();
  const embedded = new EmbeddedBackend(loadConfig({}), metrics);
  await embedded.start();
  const feeds = new Map<string, LiveHandlers>();
  const backend = new (class extends ObservedBackend {
    override live(topic: string, handlers: LiveHandlers) {
      feeds.set(topic, handlers);
      return super.live(topic, handlers);
    }
  })(embedded);
  const hub = new Hub(backend, metrics, { cachePerTopic: 100, historyLimit: 1000 });
  t.teardown(async () => {
    hub.close();
    await embedded.close();
  });
  const topic = "reset.at.head";
  const seqs = await publishMany(embedded, topic, 3);
  const live = new Collector();
  const resumed = new Collector();
  await hub.subscribe(topic, live, undefined, "live");
  await hub.subscribe(topic, resumed, { epoch: embedded.epoch(), seq: seqs[0]! }, "resumed");
  await waitFor("the resume to catch up", () => resumed.lastSeq === seqs[2]);

  // Both stand at the head: a reset to it in the same epoch changes nothing for them.
  feeds.get(topic)!.reset({ epoch: embedded.epoch(), head: seqs[2]! });
  const [next] = await publishMany(embedded, topic, 1);
  await waitFor("the next message", () => live.lastSeq === next && resumed.lastSeq === next);
  for (const c of [live, resumed]) {
    t.is(c.suboks.length, 1, "no second subok");
    t.like(c.messages.at(-1), { seq: next, prev: seqs[2] });
  }

  // Messages they never got (lost live copies): a reset past them restarts both, recovered:false.
  backend.loseLive = () => true;
  const lost = await publishMany(embedded, topic, 2);
  backend.loseLive = () => false;
  feeds.get(topic)!.reset({ epoch: embedded.epoch(), head: lost[1]! });
  await waitFor("the restarts", () => live.suboks.length === 2 && resumed.suboks.length === 2);
  for (const c of [live, resumed])
    t.like(c.suboks[1], { seq: lost[1], recovered: false, epoch: embedded.epoch() });
});
