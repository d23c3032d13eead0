// The checker: every subscriber's observations held against the reference model (model.ts).
//
// An observation is a chain: what one logical subscription of one client saw, from the request
// that started it (live, last:K, or a resume from a chosen position), through every automatic
// resume after a disconnect and every restart the edge announced, to its end. A chain is a list
// of segments, each opened by a `subok` (raw herald.v1) or a `resync` (the SDK) and followed by
// the messages delivered under it. Within a segment every message must be the next one of the
// segment's epoch's log; a new segment may skip messages only when it says so (recovered:false),
// and must say so exactly when the position could not be honoured.
import {
  DUP_WINDOW_SLACK_MS,
  type LogModel,
  type Position,
  type PublishRecord,
  type Stored,
} from "./model.js";

export interface Delivery {
  readonly seq: number;
  readonly prev: number;
  /** The publish's tag from the message's data; undefined for data this run did not publish. */
  readonly tag: string | undefined;
  /** When it was received (ms). */
  readonly t: number;
  /** The SDK labels each message with its epoch; raw frames carry none (the segment's applies). */
  readonly epoch?: string;
}

export type SegmentCause =
  /** `sub` without `from`. */
  | "live"
  /** `sub` with `{last: K}`. */
  | "last"
  /** `sub` with a position: chosen, or the chain's own after a disconnect. */
  | "resume"
  /** A `subok` (or SDK resync) the edge sent on its own: a reset or a gap it could not repair. */
  | "restart";

export interface Segment {
  readonly epoch: string;
  /** Delivery continues after this seq. */
  readonly start: number;
  /** undefined: not observable (the SDK shows no subok; a resync is recovered:false). */
  readonly recovered: boolean | undefined;
  readonly cause: SegmentCause;
  /** resume/restart: the position asked for (or the one the chain stood at). */
  readonly asked?: Position;
  /** When the request was sent (restart: when the chain last moved), and when the answer came. */
  readonly tSend: number;
  readonly tAnswer: number;
  readonly deliveries: Delivery[];
}

export interface Chain {
  readonly id: string;
  readonly client: "raw" | "sdk";
  readonly topic: string;
  readonly segments: Segment[];
  /** Still subscribed when the run ended (it must then have reached the head). */
  active: boolean;
  /** Why an active chain has no segment in force (a pending or refused subscribe), if so. */
  pending?: string;
}

export const VIOLATIONS = [
  "lost",
  "duplicated",
  "reordered",
  "wrongEpoch",
  "falseRecovered",
  "needlessUnrecovered",
  "stuck",
  "brokenChain",
] as const;
export type Violation = (typeof VIOLATIONS)[number];

export type Counts = Record<Violation, number> & { published: number; deliveries: number };

export function emptyCounts(): Counts {
  return {
    published: 0,
    deliveries: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    wrongEpoch: 0,
    falseRecovered: 0,
    needlessUnrecovered: 0,
    stuck: 0,
    brokenChain: 0,
  };
}

export function addCounts(into: Counts, more: Counts): void {
  for (const key of Object.keys(into) as (keyof Counts)[]) into[key] += more[key];
}

export interface Verdict {
  readonly counts: Counts;
  /** One line per violation (the first few hundred), for the report. */
  readonly details: string[];
}

/** Publishes whose outcome is unknown are learnt from deliveries of their tag (before checking). */
export function learnFromDeliveries(model: LogModel, chains: readonly Chain[]): void {
  for (const chain of chains) {
    for (const segment of chain.segments) {
      for (const d of segment.deliveries) {
        if (d.tag === undefined) continue;
        const publish = model.publishes.get(d.tag);
        if (!publish || publish.topic !== chain.topic) continue;
        const tag = d.tag;
        const stored = (source: "delivery" | "ack", storedMax: number) => ({
          epoch: d.epoch ?? segment.epoch,
          topic: chain.topic,
          seq: d.seq,
          tag,
          storedMin: publish.tSent,
          storedMax,
          source,
        });
        const known = model.stored(tag);
        // (The SDK sends a publish again by itself after a disconnect.)
        if (known && (publish.retried || publish.via === "sdk") && known.seq !== d.seq) {
          // A retry whose first attempt was stored too: a second copy (the window decides).
          model.learnCopy(stored("delivery", Math.min(d.t, publish.tDone ?? d.t)));
          continue;
        }
        if (known) continue;
        if (publish.result !== undefined) {
          // An answer that spans a change of history (the SDK resent it to the next edge process)
          // could not be placed in an epoch when it came: the delivery of that seq places it.
          if (!publish.result.dup && publish.result.seq === d.seq)
            model.learn(stored("ack", Math.min(d.t, publish.tDone ?? d.t)));
          continue;
        }
        model.learn(stored("delivery", d.t));
      }
    }
  }
}

/**
 * Checks every chain and every publish. `finalEpoch` is the log's epoch when the run ended: an
 * active chain must stand at its head for each topic.
 */
export function check(model: LogModel, chains: readonly Chain[], finalEpoch: string | undefined): Verdict {
  const counts = emptyCounts();
  const details: string[] = [];
  const note = (kind: Violation, what: string) => {
    counts[kind]++;
    if (details.length < 300) details.push(`${kind}: ${what}`);
  };
  checkPublishes(model, counts, note);
  const traces: string[] = [];
  for (const chain of chains) {
    const before = VIOLATIONS.reduce((n, v) => n + counts[v], 0);
    checkChain(model, chain, finalEpoch, counts, note);
    if (VIOLATIONS.reduce((n, v) => n + counts[v], 0) > before && traces.length < 20)
      traces.push(trace(model, chain));
  }
  return { counts, details: [...details, ...traces] };
}

type Note = (kind: Violation, what: string) => void;

/**
 * A retry stored again after the duplicate window is answered with the seq of its own copy: the
 * ack is true if the log holds the publish there too (whether that second copy is allowed is the
 * duplicate check's question).
 */
function holdsCopy(model: LogModel, p: PublishRecord, seq: number): boolean {
  const epoch = model.epochDuring(p.tLastSent, p.tDone ?? p.tLastSent);
  return epoch !== undefined && model.at(epoch, p.topic, seq)?.tag === p.tag;
}

function checkPublishes(model: LogModel, counts: Counts, note: Note): void {
  for (const p of model.publishes.values()) {
    if (p.via !== "marker") counts.published++;
    if (!p.result) continue;
    const stored = model.stored(p.tag);
    if (!p.result.dup) {
      // Unless its answer spans a change of history (which history holds it is then unknown).
      const placeable = model.epochDuring(p.tLastSent, p.tDone ?? p.tLastSent) !== undefined;
      if (!stored) {
        if (placeable)
          note("lost", `publish ${p.tag} on ${p.topic} acked seq ${p.result.seq}, not in the log`);
      } else if (stored.seq !== p.result.seq && !holdsCopy(model, p, p.result.seq)) {
        note("lost", `publish ${p.tag} acked seq ${p.result.seq}, the log holds it at ${stored.seq}`);
      }
      continue;
    }
    // dup:true — an earlier message of the SAME topic with the same msgId must hold that seq.
    const epoch = stored?.epoch ?? model.epochDuring(p.tSent, p.tDone ?? p.tSent);
    if (stored && stored.seq !== p.result.seq) {
      note("duplicated", `publish ${p.tag} acked dup:true (seq ${p.result.seq}) but stored at ${stored.seq}`);
      continue;
    }
    if (epoch === undefined) continue;
    const original = model.at(epoch, p.topic, p.result.seq);
    if (original) {
      const originalId = model.publishes.get(original.tag)?.msgId;
      if (originalId !== p.msgId)
        note(
          "lost",
          `publish ${p.tag} (msgId ${p.msgId}) acked as a duplicate of ${original.tag} (msgId ${originalId})`,
        );
      continue;
    }
    const other = model.topicOfSeq(epoch, p.result.seq);
    if (other !== undefined && other !== p.topic) {
      note(
        "lost",
        `publish ${p.tag} on ${p.topic} (msgId ${p.msgId}) acked dup:true with seq ${p.result.seq}, a message of ${other}: never stored`,
      );
    }
  }
  // The same msgId stored twice on one topic within the duplicate window; the same publish (a
  // retry of one whose ack was lost) stored twice.
  const byKey = new Map<string, { seq: number; storedMin: number; storedMax: number; tag: string }[]>();
  for (const p of model.publishes.values()) {
    const stored = model.stored(p.tag);
    if (!stored || p.msgId === undefined) continue;
    const key = `${stored.epoch}\n${p.topic}\n${p.msgId}`;
    const list = byKey.get(key) ?? [];
    list.push({ seq: stored.seq, storedMin: stored.storedMin, storedMax: stored.storedMax, tag: p.tag });
    byKey.set(key, list);
  }
  for (const list of byKey.values()) {
    list.sort((a, b) => a.seq - b.seq);
    for (let i = 1; i < list.length; i++) {
      // At most this far apart: within the window for sure, the second must not have been stored.
      const gap = list[i]!.storedMax - list[i - 1]!.storedMin;
      if (gap < model.rules.dupWindowMs - DUP_WINDOW_SLACK_MS) {
        note(
          "duplicated",
          `msgId of ${list[i - 1]!.tag} stored again as ${list[i]!.tag} (seq ${list[i]!.seq}) ${gap} ms later`,
        );
      }
    }
  }
  // JetStream: the durable chain. Each stored Herald-Prev must be the topic's previous message,
  // or 0 when retention had emptied the topic before it was stored.
  if (model.rules.backend === "jetstream") {
    for (const { epoch, topic } of model.topics()) {
      const log = model.log(epoch, topic);
      for (let i = 1; i < log.length; i++) {
        const [before, message] = [log[i - 1]!, log[i]!];
        if (message.storedPrev === undefined || message.storedPrev === before.seq) continue;
        if (message.storedPrev === 0 && !model.surelyRetained(before, message.storedMax)) continue;
        note(
          "brokenChain",
          `stored: ${epoch.slice(0, 6)}/${topic} seq ${message.seq} has Herald-Prev ${message.storedPrev}, the topic's previous message is ${before.seq}`,
        );
      }
    }
  }
  for (const { first, second } of model.doubleStored) {
    const gap = second.storedMax - first.storedMin;
    const msgId = model.publishes.get(first.tag)?.msgId;
    if (msgId === undefined || gap < model.rules.dupWindowMs - DUP_WINDOW_SLACK_MS) {
      note("duplicated", `publish ${first.tag} stored twice: seq ${first.seq} and ${second.seq}`);
    }
  }
}

function checkChain(
  model: LogModel,
  chain: Chain,
  finalEpoch: string | undefined,
  counts: Counts,
  note: Note,
): void {
  const name = `${chain.id} ${chain.topic}`;
  /** epoch:seq of every message this chain delivered. */
  const seen = new Set<string>();
  const lost = new Set<string>();
  let position: Position | undefined;
  for (const [index, segment] of chain.segments.entries()) {
    const where = `${name} segment ${index} (${segment.cause} ${segment.epoch.slice(0, 6)}/${segment.start})`;
    checkAnswer(model, chain, segment, where, note);
    const log = model.log(segment.epoch, chain.topic);
    let last = segment.start;
    for (const d of segment.deliveries) {
      counts.deliveries++;
      const epoch = d.epoch ?? segment.epoch;
      const entry = model.at(epoch, chain.topic, d.seq);
      if (d.epoch !== undefined && d.epoch !== segment.epoch) {
        note("wrongEpoch", `${where}: seq ${d.seq} labelled ${d.epoch}, the segment is ${segment.epoch}`);
        continue;
      }
      if (!entry || entry.tag !== d.tag) {
        const home = d.tag === undefined ? undefined : model.stored(d.tag);
        note(
          "wrongEpoch",
          `${where}: seq ${d.seq} (${d.tag}) is not that message of epoch ${epoch.slice(0, 6)}` +
            (home ? `; it is ${home.epoch.slice(0, 6)}/${home.seq}` : ""),
        );
        continue;
      }
      const key = `${epoch}:${d.seq}`;
      if (seen.has(key)) {
        note("duplicated", `${where}: seq ${d.seq} delivered again`);
        // The wire chain goes on through it (a restart may replay what the client had).
        if (d.seq > last && d.prev === last) last = d.seq;
        continue;
      }
      seen.add(key);
      if (d.seq < last) {
        note("reordered", `${where}: seq ${d.seq} after ${last}`);
        continue;
      }
      if (d.prev !== last) note("brokenChain", `${where}: seq ${d.seq} has prev ${d.prev}, expected ${last}`);
      for (const skipped of log) {
        if (skipped.seq <= last) continue;
        if (skipped.seq >= d.seq) break;
        const skippedKey = `${epoch}:${skipped.seq}`;
        if (seen.has(skippedKey) || lost.has(skippedKey)) continue;
        if (
          last === segment.start &&
          startIsHeadClaim(segment) &&
          removedBefore(model, skipped, segment.tAnswer)
        )
          continue;
        lost.add(skippedKey);
        note("lost", `${where}: seq ${skipped.seq} (${skipped.tag}) skipped before ${d.seq}`);
      }
      last = d.seq;
    }
    position = { epoch: segment.epoch, seq: last };
  }
  if (!chain.active) return;
  if (chain.pending !== undefined || position === undefined) {
    note("stuck", `${name}: no subscription in force at the end (${chain.pending ?? "never confirmed"})`);
    return;
  }
  if (finalEpoch === undefined) return;
  const head = model.head(finalEpoch, chain.topic);
  if (position.epoch !== finalEpoch || position.seq < head) {
    note(
      "stuck",
      `${name}: stands at ${position.epoch.slice(0, 6)}/${position.seq}, the log's head is ${finalEpoch.slice(0, 6)}/${head}`,
    );
  }
}

/**
 * The segment starts where the edge says the topic's head is (live, last:K, or recovered:false),
 * not at a position the client asked to continue from. Before such a start, messages retention
 * had already removed are no loss: JetStream knows no head of a topic whose messages all aged out,
 * and says 0; the next message (stored with prev 0) then follows it.
 */
function startIsHeadClaim(segment: Segment): boolean {
  if (segment.cause === "live" || segment.cause === "last") return true;
  return segment.recovered === false;
}

/** Stored before `t` and possibly removed by retention at `t`. */
function removedBefore(model: LogModel, message: Stored, t: number): boolean {
  return message.storedMin <= t && !model.surelyRetained(message, t);
}

/** A chain with a violation, as the report shows it: each segment and what it delivered. */
function trace(model: LogModel, chain: Chain): string {
  const t0 = chain.segments[0]?.tSend ?? 0;
  const at = (t: number) => `+${t - t0}ms`;
  const lines = chain.segments.map((s) => {
    const asked = s.asked ? ` asked ${s.asked.epoch.slice(0, 6)}/${s.asked.seq}` : "";
    const got = s.deliveries.map((d) => `${d.seq}<${d.prev}`).join(" ");
    return `    ${s.cause}${asked} → ${s.epoch.slice(0, 6)}/${s.start} recovered:${String(s.recovered)} (sent ${at(s.tSend)}, answered ${at(s.tAnswer)}): ${got}`;
  });
  const epochs = new Set(chain.segments.map((s) => s.epoch));
  const logs = [...epochs].map(
    (e) =>
      `    log ${e.slice(0, 6)}: ${model
        .log(e, chain.topic)
        .map((m) => `${m.seq}${m.storedPrev === undefined ? "" : `<${m.storedPrev}`}@${at(m.storedMin)}`)
        .join(" ")}`,
  );
  return `trace ${chain.id} ${chain.topic}${chain.active ? " (active)" : ""}:\n${[...lines, ...logs].join("\n")}`;
}

/**
 * The log no longer had what follows the position, yet the segment delivered exactly it: an edge's
 * ring may keep recent messages that retention already removed from the log. Nothing was lost.
 */
function honoured(model: LogModel, topic: string, segment: Segment): boolean {
  const next = model.log(segment.epoch, topic).find((m) => m.seq > segment.start);
  const first = segment.deliveries[0];
  return next !== undefined && first !== undefined && first.seq === next.seq && first.prev === segment.start;
}

/** The segment's opening answer: recovered exactly when the asked position could be honoured. */
function checkAnswer(model: LogModel, chain: Chain, segment: Segment, where: string, note: Note): void {
  const asked = segment.asked;
  if (!asked || segment.recovered === undefined) return;
  if (segment.cause !== "resume" && segment.cause !== "restart") return;
  const verdict = model.recoverable(chain.topic, asked, segment.tSend, segment.tAnswer);
  if (segment.recovered === true) {
    if (segment.epoch !== asked.epoch || segment.start !== asked.seq) {
      note(
        "falseRecovered",
        `${where}: recovered:true at ${segment.epoch.slice(0, 6)}/${segment.start}, asked ${asked.epoch.slice(0, 6)}/${asked.seq}`,
      );
    } else if (verdict === "no" && !honoured(model, chain.topic, segment)) {
      note("falseRecovered", `${where}: recovered:true for a position that cannot be honoured`);
    }
    return;
  }
  // recovered:false (a raw subok, or an SDK resync): needless when the edge agrees on the epoch
  // and everything after the position was surely retained.
  if (segment.epoch === asked.epoch && verdict === "yes") {
    note(
      "needlessUnrecovered",
      `${where}: recovered:false although ${asked.epoch.slice(0, 6)}/${asked.seq} was recoverable (answered at ${segment.epoch.slice(0, 6)}/${segment.start})`,
    );
  }
}
