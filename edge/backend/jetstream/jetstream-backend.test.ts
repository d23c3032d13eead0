// The JetStream backend against a real nats-server 2.9.10: the same seq/prev/epoch/dedupe/read
// semantics as the embedded log, live delivery with gap repair, outages and stream re-creation.
import test, { type ExecutionContext } from "ava";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startNats, startNatsCluster } from "../../../e2e/harness/nats-server.js";
import { startTcpProxy } from "../../../e2e/harness/tcp-proxy.js";
import { BackendUnavailableError, type StoredMessage } from "../backend.js";
import { TopicFeed, type FeedContext } from "./live-feed.js";
import { desiredStreamConfig } from "../../../shared/stream-config.js";
import { chainProblem, Recorder, startBackend } from "../../../e2e/harness/jetstream-support.js";
import { waitFor } from "../../../e2e/harness/wait.js";

test("RePublish's Nats-Last-Sequence on 2.9.10 is the previous seq of the same subject", async (t) => {
  const nats = await startNats(t);
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add(
    desiredStreamConfig({
      stream: "P",
      subjectPrefix: "p",
      streamReplicas: 1,
      streamStorage: "file",
      maxAgeSeconds: 60,
      maxMsgsPerTopic: 10,
      maxBytes: 1 << 20,
      duplicateWindowSeconds: 60,
    }),
  );
  const seen: string[] = [];
  nc.subscribe("p.live.>", {
    callback: (_err, msg) => {
      seen.push(
        `${msg.subject} ${msg.headers?.get("Nats-Sequence")} ${msg.headers?.get("Nats-Last-Sequence")}`,
      );
    },
  });
  await nc.flush();
  const js = jetstream(nc);
  await js.publish("p.t.a", "1");
  await js.publish("p.t.b", "2");
  await js.publish("p.t.a", "3");
  await waitFor("three republished copies", () => seen.length === 3);
  t.deepEqual(seen, ["p.live.a 1 0", "p.live.b 2 0", "p.live.a 3 1"]);
  // The stored copy carries no such header: a stored message does not know its prev by itself.
  const stored = await jsm.direct.getMessage("P", { seq: 3 });
  t.is(stored?.header?.get("Nats-Last-Sequence") ?? "", "");
});

test("seq, prev, dedupe and read match the embedded log", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  t.is(backend.status().state, "ready");
  const a1 = await backend.publish({ topic: "a", data: '"a1"' });
  const b1 = await backend.publish({ topic: "b", data: '"b1"' });
  const a2 = await backend.publish({ topic: "a", data: '"a2"', msgId: "m-1" });
  t.deepEqual(
    [a1, b1, a2],
    [
      { seq: 1, dup: false },
      { seq: 2, dup: false },
      { seq: 3, dup: false },
    ],
  );
  t.deepEqual(await backend.publish({ topic: "a", data: '"a2"', msgId: "m-1" }), { seq: 3, dup: true });

  const all = await backend.read("a", { after: 0 }, 100);
  t.true(all.recovered);
  t.is(all.head, 3);
  t.is(all.epoch, backend.epoch());
  t.deepEqual(
    all.messages.map((m) => [m.seq, m.prev, m.data]),
    [
      [1, 0, '"a1"'],
      [3, 1, '"a2"'],
    ],
  );
  t.deepEqual(
    (await backend.read("a", { after: 1 }, 100)).messages.map((m) => m.seq),
    [3],
  );
  t.deepEqual(await backend.read("a", { after: 3 }, 100), {
    epoch: backend.epoch(),
    head: 3,
    recovered: true,
    messages: [],
  });
  t.deepEqual(
    (await backend.read("a", { last: 1 }, 100)).messages.map((m) => [m.seq, m.prev]),
    [[3, 1]],
  );
  t.deepEqual(await backend.read("none", { after: 0 }, 100), {
    epoch: backend.epoch(),
    head: 0,
    recovered: true,
    messages: [],
  });
});

test("two edges publishing to one topic keep one unbroken prev chain", async (t) => {
  const nats = await startNats(t);
  const { backend: one } = await startBackend(t, nats.url);
  const { backend: two } = await startBackend(t, nats.url);
  await Promise.all(
    Array.from({ length: 40 }, (_, i) => (i % 2 ? one : two).publish({ topic: "shared", data: String(i) })),
  );
  const read = await one.read("shared", { after: 0 }, 1000);
  t.is(read.messages.length, 40);
  t.is(chainProblem(read.messages, 0), undefined);
  t.true(read.recovered);
  // Through the ordered-consumer path as well (more than the direct-get range).
  const tail = await two.read("shared", { after: read.messages[5]!.seq }, 1000);
  t.deepEqual(
    tail.messages.map((m) => m.seq),
    read.messages.slice(6).map((m) => m.seq),
  );
  t.is(chainProblem(tail.messages, read.messages[5]!.seq), undefined);
  // The last K: walking back for a few, an ordered consumer for more.
  for (const k of [3, 20]) {
    const last = await one.read("shared", { last: k }, 1000);
    t.deepEqual(
      last.messages.map((m) => m.seq),
      read.messages.slice(-k).map((m) => m.seq),
    );
    t.is(chainProblem(last.messages, read.messages.at(-k - 1)!.seq), undefined);
  }
});

test("recovered is false exactly when retention removed messages after the position", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url, { HERALD_MAX_MSGS_PER_TOPIC: "3" });
  const seqs: number[] = [];
  for (let i = 0; i < 6; i++) {
    seqs.push((await backend.publish({ topic: "r", data: String(i) })).seq);
    await backend.publish({ topic: "other", data: String(i) });
  }
  const lost = await backend.read("r", { after: seqs[1]!, orOldest: true }, 100);
  t.false(lost.recovered);
  t.deepEqual(
    lost.messages.map((m) => [m.seq, m.prev]),
    [
      [seqs[3], seqs[2]],
      [seqs[4], seqs[3]],
      [seqs[5], seqs[4]],
    ],
  );
  const fromStart = await backend.read("r", { after: 0 }, 100);
  t.false(fromStart.recovered);
  const kept = await backend.read("r", { after: seqs[2]! }, 100);
  t.true(kept.recovered);
  t.deepEqual(
    kept.messages.map((m) => m.seq),
    seqs.slice(3),
  );
  const beyond = await backend.read("r", { after: seqs[5]! + 100 }, 100);
  t.false(beyond.recovered);
  t.deepEqual(
    (await backend.read("r", { last: 10 }, 100)).messages.map((m) => m.seq),
    seqs.slice(3),
  );
});

test("live feed: learns the head, then delivers every message once in order", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  const { backend: publisher } = await startBackend(t, nats.url);
  const before = await publisher.publish({ topic: "l", data: "0" });
  const recorder = new Recorder();
  const feed = await backend.live("l", recorder);
  t.is(feed.head, before.seq);
  for (let i = 1; i <= 30; i++) await publisher.publish({ topic: i % 3 ? "l" : "x", data: String(i) });
  await waitFor("20 live messages", () => recorder.messages().length === 20);
  t.is(chainProblem(recorder.messages(), before.seq), undefined);
  t.deepEqual(
    recorder.messages().map((m) => m.data),
    Array.from({ length: 30 }, (_, i) => i + 1)
      .filter((i) => i % 3)
      .map(String),
  );
  feed.close();
});

test("NATS unreachable: publish throws BackendUnavailableError, then the feed repairs the gap before newer messages", async (t) => {
  const nats = await startNats(t);
  const proxy = await startTcpProxy(t, { port: nats.port });
  const { backend, metrics } = await startBackend(t, proxy.url);
  const { backend: other } = await startBackend(t, nats.url);
  const recorder = new Recorder();
  await backend.live("g", recorder);
  await other.publish({ topic: "g", data: "1" });
  await waitFor("the first message", () => recorder.messages().length === 1);

  proxy.cut();
  await waitFor("state unavailable", () => backend.status().state === "unavailable");
  const error = await t.throwsAsync(backend.publish({ topic: "g", data: "lost?" }));
  t.true(error instanceof BackendUnavailableError);
  for (let i = 2; i <= 6; i++) await other.publish({ topic: "g", data: String(i) });

  proxy.restore();
  await waitFor("state ready", () => backend.status().state === "ready");
  // Nothing new is published: the catch-up after the reconnect alone brings what was missed.
  await waitFor("the 5 messages published during the outage", () => recorder.messages().length === 6);
  await other.publish({ topic: "g", data: "7" });
  await waitFor("all 7 messages", () => recorder.messages().length === 7);
  t.deepEqual(
    recorder.messages().map((m) => m.data),
    ["1", "2", "3", "4", "5", "6", "7"],
  );
  t.is(chainProblem(recorder.messages(), 0), undefined);
  t.true((await metrics.gapRepairs.get()).values[0]!.value >= 1);
  t.false((await backend.read("g", { after: 0 }, 100)).messages.some((m) => m.data === "lost?"));
});

test("an existing stream with an incompatible config is refused with a clear message", async (t) => {
  const nats = await startNats(t);
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    ...desiredStreamConfig({
      stream: "HERALD",
      subjectPrefix: "herald",
      streamReplicas: 1,
      streamStorage: "memory",
      maxAgeSeconds: 60,
      maxMsgsPerTopic: 10,
      maxBytes: 1 << 20,
      duplicateWindowSeconds: 60,
    }),
  });
  const error = await t.throwsAsync(startBackend(t, nats.url));
  t.is(
    error?.message,
    "JetStream stream HERALD cannot be used by this edge:\n" +
      '  - stream HERALD uses "memory" storage, Herald is configured for "file"; storage cannot be changed in place\n' +
      "Fix the stream (or delete it so the edge re-creates it), or change the edge's HERALD_STREAM* settings.",
  );
});

test("a re-created stream has a new epoch and live feeds restart from it", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  const recorder = new Recorder();
  await backend.live("e", recorder);
  for (let i = 0; i < 5; i++) await backend.publish({ topic: "e", data: String(i) });
  await waitFor("5 messages", () => recorder.messages().length === 5);
  const oldEpoch = backend.epoch();

  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  await (await jetstreamManager(nc)).streams.delete("HERALD");
  const { backend: fresh } = await startBackend(t, nats.url);
  t.not(fresh.epoch(), oldEpoch);
  // More messages than the old stream had: seq 6 of the new stream has prev 5, like a
  // continuation of the old chain would — it must not be taken for one.
  for (let i = 0; i < 8; i++) await fresh.publish({ topic: "e", data: `new-${i}` });
  await waitFor("the new stream's messages", () => recorder.messages().at(-1)?.data === "new-7");
  t.is(backend.epoch(), fresh.epoch());
  t.deepEqual(recorder.events[5], { reset: { epoch: fresh.epoch(), head: 0 } });
  const after = recorder.events.slice(6).map((e) => ("message" in e ? e.message.data : "reset"));
  t.deepEqual(
    after,
    Array.from({ length: 8 }, (_, i) => `new-${i}`),
  );
  t.is(chainProblem(recorder.messages().slice(5), 0), undefined);
});

test("a live copy the old stream republished, arriving after the stream was re-created, is not delivered in the new epoch", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  const context = (backend as unknown as { feedContext: FeedContext }).feedContext;
  let held: { copy: StoredMessage; deliver: (m: StoredMessage) => void } | undefined;
  const holding: FeedContext = {
    ...context,
    subscribe: (topic, onMessage) =>
      context.subscribe(topic, (m) => {
        if (m?.data === "42" && held === undefined) held = { copy: m, deliver: onMessage };
        else onMessage(m);
      }),
  };
  const recorder = new Recorder();
  const feed = await TopicFeed.open("g", recorder, holding);
  t.teardown(() => feed.close());
  for (let i = 0; i < 3; i++) await backend.publish({ topic: "other", data: String(i) });
  // The old stream's seq 4, the topic's first message (prev 0): its live copy is held back.
  await backend.publish({ topic: "g", data: "42" });
  await waitFor("the held copy", () => held !== undefined);

  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  await (await jetstreamManager(nc)).streams.delete("HERALD");
  const { backend: fresh } = await startBackend(t, nats.url);
  await fresh.publish({ topic: "g", data: "1" });
  await waitFor("the new stream's first message", () => recorder.messages().at(-1)?.data === "1");
  // Now the old copy arrives: seq 4 with prev 0, beyond anything the new stream has stored.
  held!.deliver(held!.copy);
  await fresh.publish({ topic: "g", data: "2" });
  await waitFor("the new stream's second message", () => recorder.messages().at(-1)?.data === "2");
  t.deepEqual(
    recorder.messages().map((m) => m.data),
    ["1", "2"],
  );
  t.is(chainProblem(recorder.messages(), 0), undefined);
});

test("the epoch survives a restart of a file-backed nats-server", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  await backend.publish({ topic: "k", data: "1" });
  const epoch = backend.epoch();
  await nats.restart();
  const { backend: after } = await startBackend(t, nats.url);
  t.is(after.epoch(), epoch);
  t.deepEqual(
    (await after.read("k", { after: 0 }, 10)).messages.map((m) => m.data),
    ["1"],
  );
});

// Live copies are lost only on the wire (core NATS is at-most-once); to lose some on purpose the
// feed's real subscription is wrapped so that it drops the copies the test names.
async function feedDropping(
  t: ExecutionContext,
  url: string,
  drop: (data: string) => boolean,
  env: Record<string, string> = {},
) {
  const { backend, metrics } = await startBackend(t, url, env);
  const context = (backend as unknown as { feedContext: FeedContext }).feedContext;
  const lossy: FeedContext = {
    ...context,
    subscribe: (topic, onMessage) =>
      context.subscribe(topic, (m) => (m && drop(m.data) ? undefined : onMessage(m))),
  };
  const recorder = new Recorder();
  const feed = await TopicFeed.open("d", recorder, lossy);
  t.teardown(() => feed.close());
  return { backend, metrics, recorder };
}

test("a lost live copy is repaired from JetStream before the newer message is delivered", async (t) => {
  const nats = await startNats(t);
  const { backend, metrics, recorder } = await feedDropping(
    t,
    nats.url,
    (data) => data === "2" || data === "3",
  );
  for (let i = 1; i <= 5; i++) await backend.publish({ topic: "d", data: String(i) });
  await waitFor("5 messages", () => recorder.messages().length === 5);
  t.deepEqual(
    recorder.messages().map((m) => m.data),
    ["1", "2", "3", "4", "5"],
  );
  t.is(chainProblem(recorder.messages(), 0), undefined);
  t.is((await metrics.gapRepairs.get()).values[0]!.value, 1);
});

test("a gap that retention already removed ends in reset at the head", async (t) => {
  const nats = await startNats(t);
  const { backend, recorder } = await feedDropping(
    t,
    nats.url,
    (data) => Number(data) >= 2 && Number(data) <= 5,
    { HERALD_MAX_MSGS_PER_TOPIC: "2" },
  );
  const seqs: number[] = [];
  for (let i = 1; i <= 6; i++) seqs.push((await backend.publish({ topic: "d", data: String(i) })).seq);
  await waitFor("a reset", () => recorder.events.some((e) => "reset" in e));
  await backend.publish({ topic: "d", data: "7" });
  await waitFor("message 7", () => recorder.messages().at(-1)?.data === "7");
  const resetAt = recorder.events.findIndex((e) => "reset" in e);
  t.deepEqual(recorder.events[resetAt], { reset: { epoch: backend.epoch(), head: seqs[5] } });
  t.deepEqual(
    recorder.messages().map((m) => m.data),
    ["1", "7"],
  );
  t.is(
    chainProblem(
      recorder.events.slice(resetAt + 1).flatMap((e) => ("message" in e ? [e.message] : [])),
      seqs[5]!,
    ),
    undefined,
  );
});

test("the epoch of an R3 stream is the same through every node and after a leader change", async (t) => {
  const cluster = await startNatsCluster(t, 3);
  const env = { HERALD_STREAM_REPLICAS: "3" };
  const backends = await Promise.all(
    cluster.urls.map(async (url) => (await startBackend(t, url, env)).backend),
  );
  t.is(new Set(backends.map((b) => b.epoch())).size, 1);
  const leader = await cluster.leaderOf("HERALD");
  await leader.stop("SIGKILL");
  const survivor = cluster.nodes.find((n) => n !== leader)!;
  await cluster.leaderOf("HERALD");
  const { backend: later } = await startBackend(t, survivor.url, env);
  t.is(later.epoch(), backends[0]!.epoch());
});

test("a retried msgId is a dup with the original seq even when the topic moved on meanwhile", async (t) => {
  const nats = await startNats(t);
  const { backend: one } = await startBackend(t, nats.url);
  const { backend: two } = await startBackend(t, nats.url);
  const original = await one.publish({ topic: "m", data: '"x"', msgId: "retry-me" });
  await two.publish({ topic: "m", data: '"y"' });
  await two.publish({ topic: "m", data: '"z"' });
  // `one` still believes the head is `original.seq`: its expected-last-sequence is stale, yet the
  // duplicate check comes first on the server.
  t.deepEqual(await one.publish({ topic: "m", data: '"x"', msgId: "retry-me" }), {
    seq: original.seq,
    dup: true,
  });
  t.deepEqual(await two.publish({ topic: "m", data: '"x"', msgId: "retry-me" }), {
    seq: original.seq,
    dup: true,
  });
  const stored = await one.read("m", { after: 0 }, 10);
  t.deepEqual(
    stored.messages.map((m) => m.data),
    ['"x"', '"y"', '"z"'],
  );
  // And the next real publish from `one` still lands on the true head.
  const next = await one.publish({ topic: "m", data: '"w"' });
  t.is((await one.read("m", { last: 1 }, 1)).messages[0]!.prev, stored.head);
  t.is(next.seq, (await one.read("m", { last: 1 }, 1)).head);
});

test("live feed: a message after retention emptied the topic restarts the chain at its prev instead of claiming it follows what the feed had (a lost copy in between stays visible)", async (t) => {
  const nats = await startNats(t);
  const { backend, recorder } = await feedDropping(t, nats.url, (data) => data === "B", {
    HERALD_MAX_AGE_SECONDS: "1",
    HERALD_DUPLICATE_WINDOW_SECONDS: "1",
  });
  const a = await backend.publish({ topic: "d", data: "A" });
  await waitFor("A", () => recorder.messages().length === 1);
  await backend.publish({ topic: "d", data: "B" });
  await waitFor(
    "A and B to age out",
    async () => (await backend.read("d", { last: 5 }, 5)).messages.length === 0,
    10_000,
  );
  const c = await backend.publish({ topic: "d", data: "C" });
  await waitFor("C", () => recorder.messages().some((m) => m.data === "C"));
  t.deepEqual(recorder.events, [
    { message: { topic: "d", seq: a.seq, prev: 0, ts: recorder.messages()[0]!.ts, data: "A" } },
    { reset: { epoch: backend.epoch(), head: 0 } },
    { message: { topic: "d", seq: c.seq, prev: 0, ts: recorder.messages()[1]!.ts, data: "C" } },
  ]);
});
