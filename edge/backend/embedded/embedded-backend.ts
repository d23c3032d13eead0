// The embedded backend: an in-process log with exactly the semantics of the JetStream stream it
// stands in for (docs/design.md#embedded-backend): one global, strictly increasing seq; `prev` per
// topic; an epoch per log history; retention by messages per topic, age and total bytes (always
// oldest first, so a topic's retained messages are a suffix of its history); msgId dedupe within
// the duplicate window. Memory is bounded by those limits.
import { createHash, randomBytes } from "node:crypto";
import { topicProblem } from "../../../protocol/topic.js";
import { msgIdProblem } from "../../../protocol/msg-id.js";
import type { EdgeConfig } from "../../../shared/config.js";
import type { EdgeMetrics } from "../../common/metrics.js";
import { SeqQueue } from "../../common/seq-queue.js";
import {
  BackendUnavailableError,
  type Backend,
  type BackendStatus,
  type LiveFeed,
  type LiveHandlers,
  type PublishInput,
  type PublishOutcome,
  type ReadFrom,
  type ReadResult,
  type StoredMessage,
} from "../backend.js";

type RetentionConfig = Pick<
  EdgeConfig,
  "stream" | "maxMsgsPerTopic" | "maxAgeSeconds" | "maxBytes" | "duplicateWindowSeconds"
>;

/** One live feed: the last seq it delivered, so each message reaches it once, chained on prev. */
interface Listener {
  readonly handlers: LiveHandlers;
  last: number;
  closed: boolean;
}

/** One topic's retained messages (a suffix of its history) and its live listeners. */
interface TopicLog {
  readonly topic: string;
  readonly messages: SeqQueue<StoredMessage>;
  /** Seq of the topic's last message, also when retention removed it. */
  head: number;
  readonly listeners: Set<Listener>;
}

/** Entry of the global, seq-ordered queue used to remove the oldest messages by age and bytes. */
interface GlobalEntry {
  readonly seq: number;
  readonly log: TopicLog;
  readonly ts: number;
}

interface DedupeEntry {
  readonly seq: number;
  /** msgIdKey(topic, msgId) */
  readonly key: string;
  readonly at: number;
}

/**
 * The dedupe key: a msgId is scoped to its topic (docs/design.md#why-msgid-is-scoped-per-topic), as
 * on JetStream (stream-writer.ts). A topic never holds a space, so the pair is unambiguous.
 */
function msgIdKey(topic: string, msgId: string): string {
  return `${topic} ${msgId}`;
}

/** Longest pause between two sweeps of aged messages (they are also removed on every access). */
const MAX_SWEEP_INTERVAL_MS = 10_000;

export class EmbeddedBackend implements Backend {
  readonly kind = "embedded" as const;

  private readonly retention: RetentionConfig;
  private currentEpoch: string;
  private lastSeq = 0;
  private lastTs = 0;
  private totalBytes = 0;
  private readonly topics = new Map<string, TopicLog>();
  private readonly global = new SeqQueue<GlobalEntry>();
  /** Entries of `global` whose message was already removed by the per-topic limit. */
  private deadInGlobal = 0;
  private readonly dedupeBySeq = new SeqQueue<DedupeEntry>();
  private readonly dedupe = new Map<string, DedupeEntry>();
  /**
   * Heads of topics whose messages all left retention, so their prev chain and `recovered` stay
   * exact; the oldest are dropped beyond MAX_FORGOTTEN_HEADS (memory stays bounded), after which
   * an unknown topic can no longer prove that nothing after 0 was removed.
   */
  private readonly forgottenHeads = new Map<string, number>();
  private forgottenHeadsDropped = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    config: RetentionConfig,
    private readonly metrics?: EdgeMetrics,
  ) {
    this.retention = config;
    this.currentEpoch = this.newEpoch();
  }

  async start(): Promise<void> {
    if (this.closed) throw new BackendUnavailableError("the embedded log is closed");
    this.metrics?.backendUp.set(1);
    if (this.sweepTimer) return;
    const interval = Math.min(
      MAX_SWEEP_INTERVAL_MS,
      Math.max(100, (this.retention.maxAgeSeconds * 1000) / 4),
    );
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), interval);
    // The sweep only bounds memory; it must not keep the process alive.
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const log of this.topics.values()) log.listeners.clear();
    this.topics.clear();
    this.global.clear();
    this.dedupe.clear();
    this.dedupeBySeq.clear();
    this.forgottenHeads.clear();
    this.totalBytes = 0;
    this.metrics?.backendUp.set(0);
  }

  status(): BackendStatus {
    return this.closed
      ? { state: "closed", detail: "the embedded log is closed" }
      : { state: "ready", detail: "embedded in-memory log" };
  }

  onStatus(): () => void {
    // The embedded log is ready from construction until close; there is nothing to report.
    return () => {};
  }

  epoch(): string {
    return this.currentEpoch;
  }

  async confirmedEpoch(): Promise<string> {
    return this.currentEpoch;
  }

  async publish(input: PublishInput): Promise<PublishOutcome> {
    this.ensureOpen();
    const problem = topicProblem(input.topic);
    if (problem) throw new Error(problem);
    const now = Date.now();
    // The edge checks msgIds before (a 400, an err frame); both logs refuse the same ones anyway.
    const msgIdIssue = input.msgId === undefined ? undefined : msgIdProblem(input.msgId);
    if (msgIdIssue) throw new Error(msgIdIssue);
    this.sweep(now);
    const dedupeKey = input.msgId === undefined ? undefined : msgIdKey(input.topic, input.msgId);
    if (dedupeKey !== undefined) {
      const earlier = this.dedupe.get(dedupeKey);
      if (earlier) return { seq: earlier.seq, dup: true };
    }
    // Timestamps never go backwards, so the global queue is ordered by age as well as by seq.
    const ts = Math.max(now, this.lastTs);
    this.lastTs = ts;
    const log = this.topicLog(input.topic, true);
    const message: StoredMessage = Object.freeze({
      topic: input.topic,
      seq: ++this.lastSeq,
      prev: log.head,
      ts,
      data: input.data,
    });
    log.head = message.seq;
    log.messages.push(message);
    this.global.push({ seq: message.seq, log, ts });
    this.totalBytes += messageBytes(message);
    if (dedupeKey !== undefined) {
      const entry = { seq: message.seq, key: dedupeKey, at: now };
      this.dedupe.set(dedupeKey, entry);
      this.dedupeBySeq.push(entry);
    }
    this.enforceLimits(log);
    this.announce(log, message);
    return { seq: message.seq, dup: false };
  }

  async read(topic: string, from: ReadFrom, limit: number): Promise<ReadResult> {
    this.ensureOpen();
    this.sweep(Date.now());
    const log = this.topics.get(topic);
    const head = log?.head ?? this.forgottenHeads.get(topic) ?? 0;
    const messages = log?.messages ?? new SeqQueue<StoredMessage>();
    const count = Math.max(0, Math.floor(limit));
    if ("last" in from) {
      const start = Math.max(0, messages.length - Math.max(0, Math.floor(from.last)));
      return {
        epoch: this.currentEpoch,
        messages: messages.slice(start, start + count),
        head,
        recovered: true,
      };
    }
    const { start, recovered } = locateAfter(messages, head, from.after);
    if (recovered && head === 0 && this.forgottenHeadsDropped) {
      // This topic may have had messages whose head was forgotten: nothing proves none was lost.
      return { epoch: this.currentEpoch, messages: [], head, recovered: false };
    }
    // Not recovered: the oldest retained messages only when asked for, never beyond the head.
    const none = !recovered && (!from.orOldest || from.after > head);
    const page = none ? [] : messages.slice(start, start + count);
    return { epoch: this.currentEpoch, messages: page, head, recovered };
  }

  async live(topic: string, handlers: LiveHandlers): Promise<LiveFeed> {
    this.ensureOpen();
    const problem = topicProblem(topic);
    if (problem) throw new Error(problem);
    const log = this.topicLog(topic, true);
    const listener: Listener = { handlers, last: log.head, closed: false };
    log.listeners.add(listener);
    return {
      head: log.head,
      epoch: this.currentEpoch,
      close: () => {
        listener.closed = true;
        // Looked up again: recreate() moves feeds to the new history's topic logs.
        const current = this.topics.get(topic);
        if (!current) return;
        current.listeners.delete(listener);
        this.forgetIfIdle(current);
      },
    };
  }

  /**
   * Drops the whole history and starts a new one with a new epoch: the embedded equivalent of
   * deleting and re-creating the JetStream stream. Every live feed gets `reset` to head 0.
   */
  recreate(): void {
    this.ensureOpen();
    const listeners = [...this.topics.values()].flatMap((log) =>
      [...log.listeners].map((l) => ({ l, topic: log.topic })),
    );
    this.topics.clear();
    this.global.clear();
    this.deadInGlobal = 0;
    this.dedupe.clear();
    this.dedupeBySeq.clear();
    this.forgottenHeads.clear();
    this.forgottenHeadsDropped = false;
    this.totalBytes = 0;
    // A new stream numbers its messages from 1 again: only the epoch tells the histories apart.
    this.lastSeq = 0;
    this.currentEpoch = this.newEpoch();
    const epoch = this.currentEpoch;
    for (const { l, topic } of listeners) {
      this.topicLog(topic, true).listeners.add(l);
      l.last = 0;
    }
    // Queued like messages, so the reset reaches each feed after everything announced before it.
    queueMicrotask(() => {
      for (const { l } of listeners) {
        if (!l.closed && epoch === this.currentEpoch) safely(() => l.handlers.reset({ epoch, head: 0 }));
      }
    });
  }

  private newEpoch(): string {
    return createHash("sha256")
      .update(`${Date.now()}:${randomBytes(16).toString("hex")}:${this.retention.stream}`)
      .digest("base64url")
      .slice(0, 22);
  }

  private ensureOpen(): void {
    if (this.closed) throw new BackendUnavailableError("the embedded log is closed");
  }

  private topicLog(topic: string, create: true): TopicLog;
  private topicLog(topic: string, create: boolean): TopicLog | undefined {
    let log = this.topics.get(topic);
    if (!log && create) {
      log = {
        topic,
        messages: new SeqQueue(),
        head: this.forgottenHeads.get(topic) ?? 0,
        listeners: new Set(),
      };
      this.forgottenHeads.delete(topic);
      this.topics.set(topic, log);
    }
    return log;
  }

  /** A topic with no retained message and no feed is forgotten, so memory follows retention. */
  private forgetIfIdle(log: TopicLog): void {
    if (log.messages.length === 0 && log.listeners.size === 0 && this.topics.get(log.topic) === log) {
      this.topics.delete(log.topic);
      if (log.head > 0) this.rememberHead(log.topic, log.head);
    }
  }

  private rememberHead(topic: string, head: number): void {
    this.forgottenHeads.set(topic, head);
    if (this.forgottenHeads.size > MAX_FORGOTTEN_HEADS) {
      const oldest = this.forgottenHeads.keys().next().value!;
      this.forgottenHeads.delete(oldest);
      this.forgottenHeadsDropped = true;
    }
  }

  /** Delivers a new message to the topic's feeds after the current task, in publish order. */
  private announce(log: TopicLog, message: StoredMessage): void {
    if (log.listeners.size === 0) return;
    const epoch = this.currentEpoch;
    queueMicrotask(() => {
      if (epoch !== this.currentEpoch) return;
      for (const listener of log.listeners) {
        // A feed opened after this message was stored already counts it in its head.
        if (listener.closed || message.prev !== listener.last) continue;
        listener.last = message.seq;
        safely(() => listener.handlers.message(message));
      }
    });
  }

  private enforceLimits(log: TopicLog): void {
    while (log.messages.length > this.retention.maxMsgsPerTopic) this.dropOldestOf(log);
    while (this.totalBytes > this.retention.maxBytes && this.dropGloballyOldest()) {
      // keep dropping the oldest message of the whole log
    }
    if (this.deadInGlobal > COMPACT_DEAD && this.deadInGlobal * 2 > this.global.length) {
      this.global.retain((entry) => isRetained(entry, this.topics));
      this.deadInGlobal = 0;
    }
  }

  /** Removes messages older than maxAge and dedupe entries older than the duplicate window. */
  private sweep(now: number): void {
    const oldestKept = now - this.retention.maxAgeSeconds * 1000;
    while ((this.global.first?.ts ?? Infinity) < oldestKept) this.dropGloballyOldest();
    const dedupeFrom = now - this.retention.duplicateWindowSeconds * 1000;
    while ((this.dedupeBySeq.first?.at ?? Infinity) < dedupeFrom) {
      const entry = this.dedupeBySeq.shift()!;
      if (this.dedupe.get(entry.key) === entry) this.dedupe.delete(entry.key);
    }
  }

  /** Drops the oldest message of the whole log; false when the log is empty. */
  private dropGloballyOldest(): boolean {
    const entry = this.global.shift();
    if (!entry) return false;
    if (isRetained(entry, this.topics)) {
      this.dropOldestOf(entry.log);
    }
    // Either way the popped entry no longer counts: a live one was just turned dead and removed.
    this.deadInGlobal--;
    return true;
  }

  private dropOldestOf(log: TopicLog): void {
    const message = log.messages.shift();
    if (!message) return;
    this.totalBytes -= messageBytes(message);
    this.deadInGlobal++;
    this.forgetIfIdle(log);
  }
}

const COMPACT_DEAD = 1024;
const MAX_FORGOTTEN_HEADS = 65_536;

/** Whether the global queue's entry still refers to a retained message. */
function isRetained(entry: GlobalEntry, topics: Map<string, TopicLog>): boolean {
  const first = entry.log.messages.first;
  return topics.get(entry.log.topic) === entry.log && first !== undefined && entry.seq >= first.seq;
}

/** Bytes a message counts against maxBytes (as in JetStream: subject plus payload). */
function messageBytes(message: StoredMessage): number {
  return Buffer.byteLength(message.topic) + Buffer.byteLength(message.data);
}

/**
 * Where a read `after` a position starts, and whether that position is recoverable: it is when it
 * is the head, the prev of the oldest retained message, or a retained message's seq. Anything else
 * (older than retention, beyond the head, not a seq of this topic) starts at the oldest retained.
 */
function locateAfter(
  messages: SeqQueue<StoredMessage>,
  head: number,
  after: number,
): { start: number; recovered: boolean } {
  if (after === head) return { start: messages.length, recovered: true };
  const first = messages.first;
  if (!first || after > head || after < first.prev) return { start: 0, recovered: false };
  if (after === first.prev) return { start: 0, recovered: true };
  const index = messages.indexOf(after);
  return index < 0 ? { start: 0, recovered: false } : { start: index + 1, recovered: true };
}

/** Runs a feed's handler; a throwing feed must not stop delivery to the others. */
function safely(run: () => void): void {
  try {
    run();
  } catch {
    // The handler's owner is responsible for its own errors; the log carries on.
  }
}
