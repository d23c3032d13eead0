// Two edges publishing to one topic of an R3 stream at the same instant. nats-server 2.9.10
// checks Nats-Expected-Last-Subject-Sequence only when the leader proposes a message, so both
// publishes of a pair sent against the same head are often stored, the second with a Herald-Prev
// that skips the first; and the same msgId sent through both edges at once must still be stored
// once. The writer takes slots and claims for that (stream-writer.ts "Replicated streams").
import test from "ava";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startNatsCluster } from "../../../e2e/harness/nats-server.js";
import { chainProblem, Recorder, startBackend } from "../../../e2e/harness/jetstream-support.js";
import { sleep, waitFor } from "../../../e2e/harness/wait.js";
import { PREV_HEADER } from "./codec.js";
import type { PublishOutcome } from "../backend.js";
import { JetStreamBackend } from "./jetstream-backend.js";
import { EdgeMetrics } from "../../common/metrics.js";
import { createLogger } from "../../../shared/log.js";
import { loadConfig } from "../../../shared/config.js";
import { storedSubject } from "../../../shared/stream-config.js";

const ROUNDS = 120;

test("two edges publishing one topic of an R3 stream at once: every message stored once, the prev chain unbroken, each msgId once, every ack true", async (t) => {
  const cluster = await startNatsCluster(t, 3);
  const env = { HERALD_STREAM_REPLICAS: "3" };
  const { backend: a } = await startBackend(t, cluster.urls[0]!, env);
  const { backend: b } = await startBackend(t, cluster.urls[1]!, env);
  // Both edges have a subscriber of the topic: each learns its head from the live copies, so the
  // two publishes of a round are sent against the same, true head.
  const feeds = [new Recorder(), new Recorder()];
  await a.live("race", feeds[0]!);
  await b.live("race", feeds[1]!);
  let total = 0;
  const bothSeen = () =>
    waitFor(`both edges to see ${total} messages`, () => feeds.every((f) => f.messages().length === total));
  const acks = new Map<number, string>();
  const noteAck = (data: string) => (outcome: PublishOutcome) => {
    const before = acks.get(outcome.seq);
    if (before !== undefined && before !== data) t.fail(`seq ${outcome.seq} acked to ${before} and ${data}`);
    acks.set(outcome.seq, data);
    return outcome;
  };
  for (let i = 0; i < ROUNDS; i++) {
    await Promise.all([
      a.publish({ topic: "race", data: `"a${i}"` }).then(noteAck(`"a${i}"`)),
      b.publish({ topic: "race", data: `"b${i}"` }).then(noteAck(`"b${i}"`)),
    ]);
    total += 2;
    await bothSeen();
  }
  const answers: { seq: number; dup: boolean }[][] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const data = `"m${i}"`;
    answers.push(
      await Promise.all([
        a.publish({ topic: "race", data, msgId: `m${i}` }).then(noteAck(data)),
        b.publish({ topic: "race", data, msgId: `m${i}` }).then(noteAck(data)),
      ]),
    );
    total += 1;
    await bothSeen();
  }

  const nc = await connect({ servers: cluster.urls });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const { stream, subjectPrefix } = loadConfig({});
  const stored: { seq: number; prev: number; data: string }[] = [];
  for (let seq = 0; ;) {
    const msg = await jsm.streams.getMessage(stream, {
      seq: seq + 1,
      next_by_subj: storedSubject(subjectPrefix, "race"),
    } as unknown as { seq: number });
    if (!msg) break;
    stored.push({ seq: msg.seq, prev: Number(msg.header.get(PREV_HEADER)), data: msg.string() });
    seq = msg.seq;
  }
  t.is(chainProblem(stored, 0), undefined);
  const datas = stored.map((m) => m.data);
  const expected = Array.from({ length: ROUNDS }, (_, i) => [`"a${i}"`, `"b${i}"`, `"m${i}"`]).flat();
  t.deepEqual([...datas].sort(), expected.sort(), "every message stored once");
  for (const m of stored) t.is(acks.get(m.seq) ?? m.data, m.data, `seq ${m.seq}`);
  t.is(acks.size, stored.length, "every stored message was acked, at its seq");
  for (const [i, pair] of answers.entries()) {
    t.is(pair[0]!.seq, pair[1]!.seq, `m${i}: both answers name the one stored message`);
    t.is(pair.filter((p) => !p.dup).length, 1, `m${i}: one answer stored it, the other is its duplicate`);
  }
});

test("R3: a msgId is held for the duplicate window from its claim; after it the claim is replaced and the msgId stores a new message", async (t) => {
  const cluster = await startNatsCluster(t, 3);
  const env = { HERALD_STREAM_REPLICAS: "3", HERALD_DUPLICATE_WINDOW_SECONDS: "1" };
  const { backend: a } = await startBackend(t, cluster.urls[0]!, env);
  const { backend: b } = await startBackend(t, cluster.urls[1]!, env);
  const first = await a.publish({ topic: "window", data: '"1"', msgId: "w" });
  t.deepEqual(await b.publish({ topic: "window", data: '"1"', msgId: "w" }), { seq: first.seq, dup: true });
  await sleep(1200);
  const second = await b.publish({ topic: "window", data: '"2"', msgId: "w" });
  t.false(second.dup);
  t.true(second.seq > first.seq);
  t.deepEqual(await a.publish({ topic: "window", data: '"2"', msgId: "w" }), { seq: second.seq, dup: true });
});

test("an edge warns once, at start, when a replicated stream's duplicate window is shorter than 30 s; not with the default", async (t) => {
  const cluster = await startNatsCluster(t, 3);
  const warnings = async (stream: string, env: Record<string, string>) => {
    const lines: string[] = [];
    const config = loadConfig({
      HERALD_NATS_URL: cluster.urls.join(","),
      HERALD_STREAM_REPLICAS: "3",
      HERALD_STREAM: stream,
      HERALD_SUBJECT_PREFIX: stream.toLowerCase(),
      ...env,
    });
    const backend = new JetStreamBackend(
      config,
      new EdgeMetrics(),
      createLogger("info", { write: (line) => lines.push(line) }),
    );
    t.teardown(() => backend.close());
    await backend.start();
    return lines.map((line) => JSON.parse(line) as { event: string; detail?: string });
  };
  const short = (await warnings("SHORT", { HERALD_DUPLICATE_WINDOW_SECONDS: "10" })).filter(
    (line) => line.event === "stream_short_window",
  );
  t.is(short.length, 1);
  t.regex(short[0]!.detail!, /^stream SHORT has 3 replicas and a duplicate window of 10 s: /);
  t.deepEqual(
    (await warnings("LONG", {})).filter((line) => line.event === "stream_short_window"),
    [],
  );
});
