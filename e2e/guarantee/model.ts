// The reference model of the log (the guarantee checker's). It knows, per epoch and topic, every
// message that was stored: learned from publish acks, from an independent reader of the durable log
// (JetStream: the stream read by nats.js, never through an edge; embedded: the HTTP history) and,
// for a publish whose outcome is unknown (its ack was lost with a cut link or a killed process),
// from a delivery of its unique tag. From that log it decides, for any position and moment, whether
// a resume MUST be recovered ("yes"), MUST NOT be ("no"), or may go either way ("maybe": retention
// removing a message within the timing slack, a chain JetStream cannot prove, a message the model
// could not learn). The checker (checker.ts) holds every delivery against it.

export type BackendKind = "embedded" | "jetstream";

export interface Rules {
  readonly backend: BackendKind;
  /** max_age in ms. */
  readonly maxAgeMs: number;
  /** max_msgs_per_subject. */
  readonly maxMsgs: number;
  /** duplicate_window in ms. */
  readonly dupWindowMs: number;
}

/** Before this much of its age has passed, a message is surely still there (timers are not exact). */
export const AGE_SLACK_EARLY_MS = 250;
/** After its age plus this much, a message is surely gone (expiry runs on a timer, or on access). */
export const AGE_SLACK_LATE_MS = 2_000;
/** A msgId repeated this close to the window's end may or may not be recognised. */
export const DUP_WINDOW_SLACK_MS = 1_000;

export type Source = "recorder" | "ack" | "history" | "delivery";

/** One message the model knows was stored. */
export interface Stored {
  readonly epoch: string;
  readonly topic: string;
  readonly seq: number;
  /** The publish's unique tag (the `k` of its data). */
  readonly tag: string;
  /** Bounds on when it was stored (ms since the Unix epoch, this host's clock). */
  storedMin: number;
  storedMax: number;
  /** JetStream only: the Herald-Prev it was stored with (the recorder reads it). */
  storedPrev?: number;
  source: Source;
}

export type Via = "http" | "batch" | "ws" | "sdk" | "marker";

export interface PublishRecord {
  readonly tag: string;
  readonly topic: string;
  readonly msgId: string | undefined;
  readonly via: Via;
  /** The first attempt. */
  readonly tSent: number;
  /** The attempt that was answered (a retry sends the same message with the same msgId). */
  tLastSent: number;
  /** Sent more than once: a dup answer then means the first attempt was stored. */
  retried?: boolean;
  tDone?: number;
  /** The edge's answer, when one came. */
  result?: { seq: number; dup: boolean };
  /** Why no answer came (the publish then is "uncertain": stored or not, the log tells). */
  failed?: string;
}

export interface EpochSpan {
  readonly epoch: string;
  /** From when it is surely current. */
  readonly from: number;
  /** Until when it is surely current (undefined: still). */
  to?: number;
}

export type Recoverable = "yes" | "no" | "maybe";

export interface Position {
  readonly epoch: string;
  readonly seq: number;
}

export class LogModel {
  readonly publishes = new Map<string, PublishRecord>();
  readonly epochs: EpochSpan[] = [];
  /** What the model learnt that contradicts what it knew (an ack for a seq the log holds otherwise). */
  readonly conflicts: { tag: string; detail: string }[] = [];
  /** One publish found stored twice (both copies read from the log). */
  readonly doubleStored: { first: Stored; second: Stored }[] = [];
  private readonly logs = new Map<string, Map<string, Map<number, Stored>>>();
  private readonly byTag = new Map<string, Stored>();
  private readonly sortedCache = new Map<string, Stored[]>();
  /** JetStream: seqs the recorder looked at, per epoch (found, or already gone). */
  private readonly covered = new Map<string, Set<number>>();
  /** Epochs in which the recorder found a message already removed. */
  private readonly gone = new Set<string>();
  /** Highest seq known per epoch (any topic). */
  private readonly maxSeq = new Map<string, number>();

  constructor(readonly rules: Rules) {}

  // ---- epochs ----

  /** A new history began (first start, stream re-created, embedded edge restarted). */
  beginEpoch(epoch: string, from: number): void {
    const current = this.epochs.at(-1);
    if (current?.epoch === epoch) return;
    if (current && current.to === undefined) current.to = from;
    this.epochs.push({ epoch, from });
  }

  /** The current history is about to end (a re-creation or restart starts now). */
  endEpoch(at: number): void {
    const current = this.epochs.at(-1);
    if (current && current.to === undefined) current.to = at;
  }

  /** The epoch current during the whole of [from, to], if one was. */
  epochDuring(from: number, to: number): string | undefined {
    return this.epochs.find((span) => span.from <= from && (span.to === undefined || to <= span.to))?.epoch;
  }

  get currentEpoch(): string | undefined {
    const last = this.epochs.at(-1);
    return last && last.to === undefined ? last.epoch : undefined;
  }

  knowsEpoch(epoch: string): boolean {
    return this.epochs.some((span) => span.epoch === epoch);
  }

  // ---- learning ----

  addPublish(record: PublishRecord): void {
    this.publishes.set(record.tag, record);
  }

  /**
   * Learns a stored message. The recorder is authoritative (it reads the stream itself); other
   * sources only fill in what it did not see. Returns false when it contradicts what is known.
   */
  learn(message: Stored): boolean {
    const topicLog = this.topicLog(message.epoch, message.topic);
    const existing = topicLog.get(message.seq);
    if (existing) {
      if (existing.tag === message.tag) {
        existing.storedMin = Math.max(existing.storedMin, Math.min(message.storedMin, existing.storedMax));
        existing.storedMax = Math.min(existing.storedMax, Math.max(message.storedMax, existing.storedMin));
        if (message.storedPrev !== undefined) existing.storedPrev = message.storedPrev;
        if (message.source === "recorder") existing.source = "recorder";
        return true;
      }
      if (message.source !== "recorder" || existing.source === "recorder") return false;
      // The stream says otherwise: what an ack or a delivery claimed was wrong.
      this.conflicts.push({
        tag: existing.tag,
        detail: `${existing.source} put ${existing.tag} at ${existing.epoch}/${existing.topic}/${existing.seq}, the stream holds ${message.tag} there`,
      });
      this.forget(existing);
    }
    if (this.isCovered(message.epoch, message.seq) && message.source !== "recorder") {
      // The recorder looked at this seq: a message it read as something else may not be learnt
      // from elsewhere (one it found already removed may).
      const seen = this.findAt(message.epoch, message.seq);
      if (seen && seen.tag !== message.tag) return false;
    }
    const byTag = this.byTag.get(message.tag);
    if (byTag) {
      const logSays = (source: Source) => source === "recorder" || source === "history";
      if (!logSays(message.source)) return false;
      if (logSays(byTag.source)) {
        // The log really holds this publish twice.
        this.doubleStored.push({ first: byTag, second: { ...message } });
        this.store(message, false);
        return true;
      }
      this.conflicts.push({
        tag: byTag.tag,
        detail: `${byTag.source} put ${byTag.tag} at ${byTag.epoch}/${byTag.topic}/${byTag.seq}, the log holds it at ${message.epoch}/${message.topic}/${message.seq}`,
      });
      this.forget(byTag);
    }
    this.store(message, true);
    return true;
  }

  /**
   * A second stored copy of a publish, seen only in a delivery (the recorder missed it: it left
   * retention while the recorder could not read). Only a retried publish can have one.
   */
  learnCopy(message: Stored): boolean {
    const first = this.byTag.get(message.tag);
    if (!first || this.at(message.epoch, message.topic, message.seq)) return false;
    const seen = this.isCovered(message.epoch, message.seq)
      ? this.findAt(message.epoch, message.seq)
      : undefined;
    if (seen) return false;
    this.doubleStored.push({ first, second: { ...message } });
    this.store(message, false);
    return true;
  }

  private store(message: Stored, byTag: boolean): void {
    const stored: Stored = { ...message };
    this.topicLog(stored.epoch, stored.topic).set(stored.seq, stored);
    if (byTag) this.byTag.set(stored.tag, stored);
    this.sortedCache.delete(`${stored.epoch}\n${stored.topic}`);
    this.maxSeq.set(stored.epoch, Math.max(this.maxSeq.get(stored.epoch) ?? 0, stored.seq));
  }

  /** The recorder found `seq` of `epoch` already removed (it never read it). */
  coverGone(epoch: string, seq: number): void {
    this.cover(epoch, seq);
    this.gone.add(epoch);
  }

  /** The recorder looked at `seq` of `epoch` (it read it, or it was already removed). */
  cover(epoch: string, seq: number): void {
    let set = this.covered.get(epoch);
    if (!set) this.covered.set(epoch, (set = new Set()));
    set.add(seq);
    this.maxSeq.set(epoch, Math.max(this.maxSeq.get(epoch) ?? 0, seq));
  }

  isCovered(epoch: string, seq: number): boolean {
    return this.covered.get(epoch)?.has(seq) ?? false;
  }

  private forget(stored: Stored): void {
    this.topicLog(stored.epoch, stored.topic).delete(stored.seq);
    if (this.byTag.get(stored.tag) === stored) this.byTag.delete(stored.tag);
    this.sortedCache.delete(`${stored.epoch}\n${stored.topic}`);
  }

  private findAt(epoch: string, seq: number): Stored | undefined {
    for (const topicLog of this.logs.get(epoch)?.values() ?? []) {
      const found = topicLog.get(seq);
      if (found) return found;
    }
    return undefined;
  }

  private topicLog(epoch: string, topic: string): Map<number, Stored> {
    let topics = this.logs.get(epoch);
    if (!topics) this.logs.set(epoch, (topics = new Map()));
    let log = topics.get(topic);
    if (!log) topics.set(topic, (log = new Map()));
    return log;
  }

  // ---- reading ----

  stored(tag: string): Stored | undefined {
    return this.byTag.get(tag);
  }

  at(epoch: string, topic: string, seq: number): Stored | undefined {
    return this.logs.get(epoch)?.get(topic)?.get(seq);
  }

  /** Every known message of the topic in the epoch, in seq order. */
  log(epoch: string, topic: string): Stored[] {
    const key = `${epoch}\n${topic}`;
    let sorted = this.sortedCache.get(key);
    if (!sorted) {
      sorted = [...(this.logs.get(epoch)?.get(topic)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
      this.sortedCache.set(key, sorted);
    }
    return sorted;
  }

  /** Every (epoch, topic) the model knows messages of. */
  topics(): { epoch: string; topic: string }[] {
    return [...this.logs.entries()].flatMap(([epoch, topics]) =>
      [...topics.keys()].map((topic) => ({ epoch, topic })),
    );
  }

  head(epoch: string, topic: string): number {
    return this.log(epoch, topic).at(-1)?.seq ?? 0;
  }

  topicOfSeq(epoch: string, seq: number): string | undefined {
    return this.findAt(epoch, seq)?.topic;
  }

  highestSeq(epoch: string): number {
    return this.maxSeq.get(epoch) ?? 0;
  }

  /** Publishes to `topic` whose outcome is unknown and that the log does not show (yet). */
  private unresolvedBefore(topic: string, t: number): number {
    let n = 0;
    for (const p of this.publishes.values()) {
      if (p.topic === topic && p.tSent <= t && p.result === undefined && !this.byTag.has(p.tag)) n++;
    }
    return n;
  }

  // ---- retention ----

  /** The message is surely still retained at time t (neither age nor the per-topic count removed it). */
  surelyRetained(message: Stored, t: number): boolean {
    if (t >= message.storedMin + this.rules.maxAgeMs - AGE_SLACK_EARLY_MS) return false;
    const later = this.log(message.epoch, message.topic).filter(
      (m) => m.seq > message.seq && m.storedMin <= t,
    ).length;
    return later + this.unresolvedBefore(message.topic, t) < this.rules.maxMsgs;
  }

  /** Nothing of the epoch's log (any topic) was possibly removed by time t. */
  surelyIntact(epoch: string, t: number): boolean {
    if (this.gone.has(epoch)) return false;
    for (const topic of this.logs.get(epoch)?.keys() ?? []) {
      const log = this.log(epoch, topic).filter((m) => m.storedMin <= t);
      const oldest = log[0];
      if (oldest && !this.surelyRetained(oldest, t)) return false;
    }
    return true;
  }

  /** The message was surely removed by retention by time t. */
  surelyRemoved(message: Stored, t: number): boolean {
    if (t > message.storedMax + this.rules.maxAgeMs + AGE_SLACK_LATE_MS) return true;
    const later = this.log(message.epoch, message.topic).filter(
      (m) => m.seq > message.seq && m.storedMax < t,
    ).length;
    return later >= this.rules.maxMsgs;
  }

  /**
   * Whether a read "after `position`" of `topic`, answered at some moment in [tFrom, tTo], must be
   * recovered. The epoch must be the log's own (a foreign epoch is never recoverable); the
   * position must be one of the topic's (0, a stored seq, not beyond the head); and the first
   * message after it must still be retained.
   */
  recoverable(topic: string, position: Position, tFrom: number, tTo: number): Recoverable {
    const { epoch, seq } = position;
    if (!this.knowsEpoch(epoch)) return "no";
    // JetStream: prev 0 also follows a topic that retention emptied, so position 0 is provable only
    // while the stream never removed a message (of any topic).
    if (this.rules.backend === "jetstream" && seq === 0 && !this.surelyIntact(epoch, tTo)) return "maybe";
    const log = this.log(epoch, topic);
    const own = seq === 0 ? undefined : log.find((m) => m.seq === seq);
    if (seq !== 0 && !own) {
      if (seq > this.highestSeq(epoch) + 1) return "no";
      const other = this.topicOfSeq(epoch, seq);
      // A seq of another topic is no position of this one; a seq the model never learnt may be.
      return other !== undefined && other !== topic ? "no" : "maybe";
    }
    // A position whose message did not exist yet (a guessed seq that a later message took) is
    // beyond the head when asked; stored while the request was out, it may be either.
    if (own && own.storedMin > tFrom) return own.storedMin > tTo ? "no" : "maybe";
    const next = log.find((m) => m.seq > seq);
    if (next === undefined) {
      if (seq === 0) return "yes";
      if (this.rules.backend === "embedded") return "yes";
      // JetStream knows the head only while the message at it is retained.
      if (own && this.surelyRetained(own, tTo)) return "yes";
      return "maybe";
    }
    if (next.storedMax < tFrom && this.surelyRemoved(next, tFrom)) return "no";
    if (!this.surelyRetained(next, tTo)) return "maybe";
    if (this.rules.backend === "jetstream") {
      // Only `prev === after` proves continuity: a message stored when its topic was empty carries
      // prev 0, and JetStream cannot tell what came before it.
      if (next.storedPrev !== undefined && next.storedPrev !== seq) return "maybe";
      if (next.storedPrev === undefined && own && !this.surelyRetained(own, next.storedMax)) return "maybe";
    }
    return "yes";
  }
}
