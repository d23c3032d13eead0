// The checker itself, on made-up observations: each kind of violation is counted where it
// happens and nowhere else, and what the model allows (retention within its slack, a chain
// JetStream cannot prove) is not counted.
import test from "ava";
import { check, type Chain, type Delivery, type Segment, type Violation } from "./checker.js";
import { LogModel, type PublishRecord, type Rules } from "./model.js";

const E1 = "epoch-one";
const E2 = "epoch-two";
const T0 = 1_000_000;
const HOUR = 3_600_000;

function model(rules: Partial<Rules> = {}): LogModel {
  const m = new LogModel({
    backend: "embedded",
    maxAgeMs: HOUR,
    maxMsgs: 1000,
    dupWindowMs: 120_000,
    ...rules,
  });
  m.beginEpoch(E1, 0);
  return m;
}

/** A publish over HTTP of `tag` on `topic`, sent once at `tSent` and answered at `tDone` with `result`. */
function published(
  tag: string,
  topic: string,
  msgId: string | undefined,
  result: { seq: number; dup: boolean },
  tSent: number,
  tDone = tSent,
): PublishRecord {
  return { tag, topic, msgId, via: "http", tSent, tLastSent: tSent, tDone, result };
}

/** Stores `seqs` on topic "a" of `epoch`, published at T0 + seq ms, with tags a<seq> (or given). */
function store(m: LogModel, seqs: number[], epoch = E1, topic = "a", prevs?: number[]): void {
  seqs.forEach((seq, i) => {
    const tag = `${epoch}-${topic}${seq}`;
    m.addPublish(published(tag, topic, undefined, { seq, dup: false }, T0 + seq));
    m.learn({
      epoch,
      topic,
      seq,
      tag,
      storedMin: T0 + seq,
      storedMax: T0 + seq,
      source: "recorder",
      ...(prevs ? { storedPrev: prevs[i]! } : {}),
    });
  });
}

const d = (seq: number, prev: number, epoch = E1, topic = "a"): Delivery => ({
  seq,
  prev,
  tag: `${epoch}-${topic}${seq}`,
  t: T0 + 10_000,
});

function segment(over: Partial<Segment> & { deliveries: Delivery[] }): Segment {
  return {
    epoch: E1,
    start: 0,
    recovered: true,
    cause: "live",
    tSend: T0 + 5000,
    tAnswer: T0 + 5001,
    ...over,
  };
}

function chain(segments: Segment[], active = true): Chain {
  return { id: "c", client: "raw", topic: "a", segments, active };
}

function only(verdict: ReturnType<typeof check>): Partial<Record<Violation, number>> {
  const out: Partial<Record<Violation, number>> = {};
  for (const [k, v] of Object.entries(verdict.counts)) {
    if (k !== "published" && k !== "deliveries" && v > 0) out[k as Violation] = v;
  }
  return out;
}

test("a complete chain from a live start is clean", (t) => {
  const m = model();
  store(m, [1, 3, 7]);
  t.deepEqual(only(check(m, [chain([segment({ deliveries: [d(1, 0), d(3, 1), d(7, 3)] })])], E1)), {});
});

test("a skipped message is lost; a repeated one duplicated; an older one reordered", (t) => {
  const m = model();
  store(m, [1, 3, 7, 9]);
  t.deepEqual(only(check(m, [chain([segment({ deliveries: [d(1, 0), d(7, 3), d(9, 7)] })])], E1)), {
    lost: 1,
    brokenChain: 1,
  });
  t.deepEqual(
    only(check(m, [chain([segment({ deliveries: [d(1, 0), d(3, 1), d(3, 1), d(7, 3), d(9, 7)] })])], E1)),
    {
      duplicated: 1,
    },
  );
  t.deepEqual(only(check(m, [chain([segment({ start: 3, deliveries: [d(7, 3), d(1, 0), d(9, 7)] })])], E1)), {
    reordered: 1,
  });
});

test("a message of another epoch delivered under this one is wrongEpoch", (t) => {
  const m = model();
  store(m, [1, 2]);
  m.beginEpoch(E2, T0 + 3000);
  store(m, [1, 2, 3], E2);
  const leaked = { seq: 3, prev: 2, tag: `${E2}-a3`, t: T0 + 10_000 };
  const verdict = check(m, [chain([segment({ deliveries: [d(1, 0), d(2, 1), leaked] })], false)], E2);
  t.deepEqual(only(verdict), { wrongEpoch: 1 });
});

test("recovered:true where a message after the position had aged out is false; recovered:false where all was there is needless", (t) => {
  const m = model({ maxAgeMs: 2000 });
  store(m, [1, 2, 5]);
  // Asked at T0+10s for seq 1: seq 2 (stored at T0+2) was surely gone.
  const lied = segment({
    cause: "resume",
    asked: { epoch: E1, seq: 1 },
    start: 1,
    recovered: true,
    tSend: T0 + 10_000,
    tAnswer: T0 + 10_001,
    deliveries: [{ ...d(5, 1) }],
  });
  t.deepEqual(only(check(m, [chain([lied], false)], E1)), { falseRecovered: 1, lost: 1 });
  // An edge's ring may still hold what retention removed from the log: delivered, nothing lost.
  const fromRing = { ...lied, deliveries: [d(2, 1), d(5, 2)] };
  t.deepEqual(only(check(m, [chain([fromRing], false)], E1)), {});

  const m2 = model();
  store(m2, [1, 2, 5]);
  const needless = segment({
    cause: "resume",
    asked: { epoch: E1, seq: 2 },
    start: 5,
    recovered: false,
    deliveries: [],
  });
  t.deepEqual(only(check(m2, [chain([needless], false)], E1)), { needlessUnrecovered: 1 });
  // Near the end of max_age either answer is right.
  const m3 = model({ maxAgeMs: 5000 });
  store(m3, [1, 2, 5]);
  const edge = segment({
    cause: "resume",
    asked: { epoch: E1, seq: 2 },
    start: 5,
    recovered: false,
    tSend: T0 + 4900,
    tAnswer: T0 + 4950,
    deliveries: [],
  });
  t.deepEqual(only(check(m3, [chain([edge], false)], E1)), {});
});

test("foreign and future positions must not be recovered", (t) => {
  const m = model();
  store(m, [1, 2]);
  const foreign = segment({
    cause: "resume",
    asked: { epoch: "nope", seq: 1 },
    epoch: "nope",
    start: 1,
    recovered: true,
    deliveries: [],
  });
  const future = segment({
    cause: "resume",
    asked: { epoch: E1, seq: 900 },
    start: 900,
    recovered: true,
    deliveries: [],
  });
  t.deepEqual(only(check(m, [chain([foreign], false), chain([future], false)], E1)), { falseRecovered: 2 });
  const honest = segment({
    cause: "resume",
    asked: { epoch: E1, seq: 900 },
    start: 2,
    recovered: false,
    deliveries: [],
  });
  t.deepEqual(only(check(m, [chain([honest])], E1)), {});
});

/** seq 9 of topic a, published and stored a minute after T0 (its answer seq 9), as `learned` says. */
function storeLate(
  log: ReturnType<typeof model>,
  learned: { readonly storedPrev?: number; readonly source: "recorder" | "ack" },
): void {
  const tag = `${E1}-a9`;
  const at = T0 + 60_000;
  log.addPublish(published(tag, "a", undefined, { seq: 9, dup: false }, at));
  log.learn({ epoch: E1, topic: "a", seq: 9, tag, storedMin: at, storedMax: at, ...learned });
}

test("JetStream: a message stored with prev 0 after its topic emptied proves nothing, so recovered:false is allowed", (t) => {
  const m = model({ backend: "jetstream", maxAgeMs: 2000 });
  // seq 1 stored at T0+1; seq 9 stored much later (T0+9 in this helper, so move it) with prev 0.
  store(m, [1], E1, "a", [0]);
  storeLate(m, { storedPrev: 0, source: "recorder" });
  const resync = segment({
    cause: "resume",
    asked: { epoch: E1, seq: 1 },
    start: 9,
    recovered: false,
    tSend: T0 + 60_100,
    tAnswer: T0 + 60_101,
    deliveries: [],
  });
  t.deepEqual(only(check(m, [chain([resync], false)], E1)), {});
  // The embedded log remembers the head: there the same answer is needless.
  const e = model({ maxAgeMs: 2000 });
  store(e, [1]);
  storeLate(e, { source: "ack" });
  t.deepEqual(only(check(e, [chain([resync], false)], E1)), { needlessUnrecovered: 1 });
});

test("an active chain behind the head, or without a subscription, is stuck", (t) => {
  const m = model();
  store(m, [1, 2, 3]);
  const behind = chain([segment({ deliveries: [d(1, 0)] })]);
  const pending: Chain = { ...chain([]), pending: "sub refused" };
  t.deepEqual(only(check(m, [behind, pending], E1)), { stuck: 2 });
});

test("a msgId acked as a duplicate of another topic's message is lost; stored twice on one topic is duplicated", (t) => {
  const m = model();
  m.addPublish(published("x1", "a", "M", { seq: 1, dup: false }, T0));
  m.learn({ epoch: E1, topic: "a", seq: 1, tag: "x1", storedMin: T0, storedMax: T0, source: "ack" });
  m.addPublish(published("x2", "b", "M", { seq: 1, dup: true }, T0 + 1, T0 + 2));
  t.deepEqual(only(check(m, [], E1)), { lost: 1 });

  const m2 = model();
  m2.addPublish(published("y1", "a", "M", { seq: 1, dup: false }, T0));
  m2.learn({ epoch: E1, topic: "a", seq: 1, tag: "y1", storedMin: T0, storedMax: T0, source: "ack" });
  m2.addPublish(published("y2", "a", "M", { seq: 2, dup: false }, T0 + 5, T0 + 6));
  m2.learn({ epoch: E1, topic: "a", seq: 2, tag: "y2", storedMin: T0 + 5, storedMax: T0 + 6, source: "ack" });
  t.deepEqual(only(check(m2, [], E1)), { duplicated: 1 });
});

test("a retry stored again after the duplicate window, acked with its second copy's seq, is neither lost nor duplicated; within the window it is duplicated, not lost", (t) => {
  for (const [gapMs, expected] of [
    [5_000, {}],
    [500, { duplicated: 1 }],
  ] as const) {
    const m = model({ backend: "jetstream", dupWindowMs: 3_000 });
    // Sent at T0, retried gapMs later; the retry was answered.
    m.addPublish({
      ...published("r1", "a", "M", { seq: 5, dup: false }, T0, T0 + gapMs + 1),
      tLastSent: T0 + gapMs,
      retried: true,
    });
    const copy = { epoch: E1, topic: "a", tag: "r1", source: "recorder" } as const;
    m.learn({ ...copy, seq: 4, storedMin: T0, storedMax: T0 + 1, storedPrev: 0 });
    m.learn({ ...copy, seq: 5, storedMin: T0 + gapMs, storedMax: T0 + gapMs + 1, storedPrev: 4 });
    t.deepEqual(only(check(m, [], E1)), expected, `${gapMs} ms apart`);
  }
});

test("a position whose message was stored only after the answer did not exist when asked: recovered:false then is not needless", (t) => {
  const m = model({ backend: "jetstream" });
  store(m, [1, 6]);
  // Asked for seq 1 (a guessed position) before it was stored at T0 + 1: answered at the head, 0.
  const early = segment({
    cause: "resume",
    asked: { epoch: E1, seq: 1 },
    recovered: false,
    start: 0,
    tSend: T0 - 100,
    tAnswer: T0 - 90,
    deliveries: [d(1, 0), d(6, 1)],
  });
  t.deepEqual(only(check(m, [chain([early])], E1)), {});
  // Asked after it was stored, the same answer is needless.
  const late = { ...early, tSend: T0 + 100, tAnswer: T0 + 110 };
  t.deepEqual(only(check(m, [chain([late])], E1)), { needlessUnrecovered: 1 });
});
