// One topic's live feed on one edge: a core-NATS subscription to `<prefix>.live.<topic>` (held only
// while the edge has local subscribers) whose messages are checked against the prev chain before
// they are handed on. A message whose prev is newer than the last seq delivered reveals a gap: the
// missing messages are fetched from JetStream and delivered first. After a NATS outage the backend
// asks every feed to catch up (fetch whatever was stored meanwhile) before anything newer goes out.
// A lost live copy that no later message reveals is found by the head checks (head-check.ts).
import type { Subscription } from "@nats-io/nats-core";
import type { ConcurrencyLimit } from "./concurrency.js";
import type { EdgeMetrics } from "../../common/metrics.js";
import { MESSAGE_OVERHEAD_BYTES, type MemoryBudget } from "../../common/memory-budget.js";
import { BackendUnavailableError, type LiveFeed, type LiveHandlers, type StoredMessage } from "../backend.js";
import type { ReadMessage } from "./codec.js";
import type { StreamReader } from "./reader.js";

/** Messages fetched per JetStream read while repairing a gap. */
const REPAIR_BATCH = 100;
/** Live messages queued behind a running repair; beyond it they are dropped and re-read instead. */
const MAX_QUEUED = 10_000;
/** Messages read from the stream whose live copies a feed recognizes (see TopicFeed.known). */
const MAX_KNOWN_COPIES = 4096;
/** Pause before retrying a read that failed because JetStream was unreachable. */
const RETRY_MS = 500;
/**
 * A stored head newer than what the feed delivered is repaired only if it is still missing after
 * this long: normally its live copy is just in flight, and repairing would cost a needless read.
 */
const HEAD_GRACE_MS = 1000;

export interface FeedContext {
  readonly reader: StreamReader;
  readonly metrics: EdgeMetrics;
  /** Live messages queued behind a repair count against the edge's memory budget. */
  readonly budget?: MemoryBudget;
  /** Bounds the JetStream reads of many feeds catching up at once (after a reconnect). */
  readonly reads: ConcurrencyLimit;
  epoch(): string;
  /** Subscribes to the topic's live subject; resolves once the server has registered it. */
  subscribe(topic: string, onMessage: (message: StoredMessage | undefined) => void): Promise<Subscription>;
  /**
   * Epoch before delivery: resolves once a stream info request that started after the call has
   * answered (feeds restart when the stream was re-created); rejects when it cannot be asked. A
   * feed asks before it delivers what it read from the stream and when a live message cannot be
   * placed in its chain, and waits: nothing of a new stream is taken for the old one's.
   */
  confirmEpoch(): Promise<void>;
  /** The feed delivered up to this seq (the publisher's belief of the head follows it). */
  noteHead(topic: string, seq: number): void;
  closed(feed: TopicFeed): void;
}

type Item =
  | { kind: "live"; message: StoredMessage }
  | { kind: "catch-up" }
  | { kind: "restart" }
  | { kind: "head"; seq: number };

export class TopicFeed implements LiveFeed {
  private last = 0;
  private queue: Item[] = [];
  private draining = false;
  private isClosed = false;
  private subscription: Subscription | undefined;
  /** Bumped by restart(): work begun under an older generation must not deliver. */
  private generation = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly headTimers = new Set<NodeJS.Timeout>();
  /** Set when NATS disconnected: the epoch is confirmed before the feed delivers anything more. */
  private unconfirmed = false;
  /**
   * Messages the feed delivered from stream reads (and those counted in its head at open), seq →
   * ts, the most recent MAX_KNOWN_COPIES: their live copies arrive later and are dropped as such.
   * Any other live message at or below the chain cannot be placed and makes the feed confirm the
   * epoch (a re-created stream numbers from 1 again; its messages have other timestamps).
   */
  private readonly known = new Map<number, number>();

  private constructor(
    readonly topic: string,
    private readonly handlers: LiveHandlers,
    private readonly ctx: FeedContext,
    readonly head: number,
    readonly epoch: string,
  ) {}

  /**
   * Subscribes first, then learns the head: every message stored after the head lookup arrives
   * live, every one before it is counted in `head`, so the chain is checked from the first message.
   */
  static async open(topic: string, handlers: LiveHandlers, ctx: FeedContext): Promise<TopicFeed> {
    const early: StoredMessage[] = [];
    let feed: TopicFeed | undefined;
    const subscription = await ctx.subscribe(topic, (message) => {
      if (!message) return;
      if (feed) feed.enqueue({ kind: "live", message });
      else early.push(message);
    });
    try {
      // The head belongs to the epoch only if the stream is the same one after the lookup.
      for (let attempt = 1; ; attempt++) {
        const epoch = ctx.epoch();
        ctx.metrics.backendReads.inc({ kind: "head" });
        const head = (await ctx.reader.last(topic))?.seq ?? 0;
        await ctx.confirmEpoch();
        if (ctx.epoch() === epoch) {
          feed = new TopicFeed(topic, handlers, ctx, head, epoch);
          break;
        }
        if (attempt >= 3) throw new BackendUnavailableError(`the stream keeps changing its epoch`);
      }
    } catch (err) {
      subscription.unsubscribe();
      throw err;
    }
    feed.subscription = subscription;
    feed.last = feed.head;
    ctx.noteHead(topic, feed.head);
    for (const message of early) {
      if (message.seq <= feed.head) feed.remember(message);
      feed.enqueue({ kind: "live", message });
    }
    return feed;
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.replaceQueue([]);
    clearTimeout(this.retryTimer);
    for (const timer of this.headTimers) clearTimeout(timer);
    this.headTimers.clear();
    this.subscription?.unsubscribe();
    this.ctx.closed(this);
  }

  /** NATS is back (or a read failed earlier): fetch what was stored meanwhile, then go on. */
  catchUp(): void {
    this.enqueue({ kind: "catch-up" });
  }

  /**
   * The stream holds this topic up to `seq` (a head check): when the feed has still not delivered
   * it after a short grace, its live copy was lost; repair up to it, in order, before anything newer.
   */
  noteStoredHead(seq: number): void {
    if (seq <= this.last || this.isClosed) return;
    const generation = this.generation;
    const timer = setTimeout(() => {
      this.headTimers.delete(timer);
      if (generation === this.generation && seq > this.last) this.enqueue({ kind: "head", seq });
    }, HEAD_GRACE_MS);
    timer.unref();
    this.headTimers.add(timer);
  }

  /** NATS disconnected: confirm the epoch before delivering anything more. */
  suspect(): void {
    this.unconfirmed = true;
  }

  /** The stream was re-created: drop everything queued and restart from the new stream's start. */
  restart(): void {
    this.generation++;
    this.unconfirmed = false;
    this.known.clear();
    this.replaceQueue([]);
    this.enqueue({ kind: "restart" });
  }

  /** Live items waiting behind others, whose bytes the memory budget holds until they leave. */
  private readonly counted = new WeakSet<Item>();

  private replaceQueue(items: Item[]): void {
    for (const item of this.queue) this.uncount(item);
    this.queue = items;
  }

  private uncount(item: Item): void {
    if (item.kind !== "live" || !this.counted.delete(item)) return;
    this.ctx.budget?.give("feed", feedBytes(item.message));
  }

  private enqueue(item: Item): void {
    if (this.isClosed) return;
    const waits = item.kind === "live" && this.queue.length > 0;
    const budget = this.ctx.budget;
    const refused = waits && budget !== undefined && !budget.tryTake("feed", feedBytes(item.message));
    if (waits && (this.queue.length >= MAX_QUEUED || refused)) {
      // Far behind, or over the memory budget: stop queueing copies and read the backlog from
      // JetStream instead; a restart waiting in the queue stays (it catches up after its reset).
      const restart = this.queue.some((queued) => queued.kind === "restart");
      this.replaceQueue([restart ? { kind: "restart" } : { kind: "catch-up" }]);
    } else {
      if (waits && budget) this.counted.add(item);
      this.queue.push(item);
    }
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.isClosed) {
        const item = this.queue[0]!;
        const generation = this.generation;
        try {
          await this.process(item, generation);
        } catch {
          // JetStream unreachable, electing a leader, or a replica behind: keep the item and try
          // again shortly; nothing newer is delivered before it.
          this.retryLater();
          return;
        }
        if (this.queue[0] === item) this.uncount(this.queue.shift()!);
      }
    } finally {
      this.draining = false;
    }
  }

  private retryLater(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.drain();
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  private async process(item: Item, generation: number): Promise<void> {
    if (this.unconfirmed && item.kind !== "restart") {
      await this.ctx.confirmEpoch();
      // A new epoch restarted the feed: this item is gone with the old queue.
      if (generation !== this.generation) return;
      this.unconfirmed = false;
    }
    switch (item.kind) {
      case "restart":
        // A new stream: its history starts at 0, so deliver all of it that is still retained
        // (the catch-up that replaces this item, so that a retry does not reset twice).
        this.last = 0;
        safely(() => this.handlers.reset({ epoch: this.ctx.epoch(), head: 0 }));
        this.queue[0] = { kind: "catch-up" };
        return;
      case "catch-up": {
        // Everything up to the leader's head must be delivered before anything newer: a direct
        // get answered by a lagging follower would otherwise end the catch-up early.
        await this.ctx.reads.run(async () => {
          const head = await this.ctx.reader.leaderHead(this.topic);
          await this.repair(head, generation);
          if (generation === this.generation && this.last < head)
            throw new Error(`${this.topic}: caught up to ${this.last} of ${head}`);
        });
        return;
      }
      case "head": {
        if (item.seq <= this.last) return;
        await this.repair(item.seq, generation);
        if (generation !== this.generation || this.last >= item.seq) return;
        // Retention removed what the repair was to read: the chain cannot continue.
        if (await this.ctx.reader.removedThrough(item.seq)) return this.resetToHead(generation);
        // A lagging replica answered the reads: try again rather than leave the message out.
        throw new Error(`${this.topic}: repaired to ${this.last} of ${item.seq}`);
      }
      case "live": {
        const message = item.message;
        if (message.seq <= this.last) {
          // The live copy of a message a repair already delivered; anything else at or below the
          // chain cannot be placed in it: a re-created stream, unless the epoch is confirmed.
          if (this.known.get(message.seq) !== message.ts) await this.ctx.confirmEpoch();
          return;
        }
        if (message.prev > this.last) {
          await this.repair(message.prev, generation);
          if (generation !== this.generation || message.seq <= this.last) return;
          if (message.prev > this.last) {
            // Retention removed the gap before it could be read: the chain restarts at this
            // message's prev (confirmed in this epoch), the message follows. Otherwise the missing
            // messages are not readable yet (a lagging replica answered): never skip them; the
            // item stays first in the queue and is tried again.
            const stream = await this.ctx.reader.bounds();
            // A copy from a stream since re-created (this one has not stored that seq) is dropped.
            if (stream.last < message.seq) return;
            if (stream.first <= message.prev)
              throw new Error(`${this.topic}: gap ${this.last}..${message.prev} not readable yet`);
            await this.ctx.confirmEpoch();
            if (generation !== this.generation) return;
            this.resetTo(message.prev, generation);
          }
        }
        if (message.prev < this.last) {
          // Retention emptied the topic before this message was stored (JetStream then numbers its
          // prev 0), or it belongs to a re-created stream: it cannot be placed in the chain, so
          // the epoch is confirmed first (a new one restarts the feed). In the same epoch nothing
          // proves that no message was lost between `last` and it (continuity is proven by
          // equality only): the chain restarts at its prev, the message follows.
          await this.ctx.confirmEpoch();
          if (generation !== this.generation || !(await this.heldByStream(message))) return;
          this.resetTo(message.prev, generation);
        } else if (message.prev === 0) {
          // A topic's first message continues a chain at 0, and so does a re-created stream's
          // first message of it: the epoch is confirmed before it is delivered.
          await this.ctx.confirmEpoch();
          if (generation !== this.generation || !(await this.heldByStream(message))) return;
        }
        this.deliver(message, generation);
        return;
      }
    }
  }

  /**
   * Whether this live copy can be the stream's as it is now. A copy republished by a stream that
   * was since re-created can still arrive after the feed adopted the new epoch (the live subject
   * outlives the stream), and by its seq and prev it may pass for the new stream's first message,
   * or for one after a gap. It is foreign when the stream's leader has not reached its seq, or holds
   * another message there; a message retention already removed is given the benefit of the doubt
   * (as before this check). Asked only where the chain cannot place a message by itself.
   */
  private async heldByStream(message: StoredMessage): Promise<boolean> {
    const stored = await this.ctx.reader.leaderAt(this.topic, message.seq);
    if (stored === "gone") return true;
    return stored !== "beyond" && stored !== undefined && stored.ts === message.ts;
  }

  /**
   * Delivers the topic's stored messages after `last` and through `through` (a seq known to be
   * stored: the reads end there instead of waiting for more), checking the chain.
   */
  private async repair(through: number, generation: number): Promise<void> {
    let counted = false;
    while (generation === this.generation && !this.isClosed && this.last < through) {
      this.ctx.metrics.backendReads.inc({ kind: "repair" });
      const batch = await this.ctx.reader.after(this.topic, this.last, REPAIR_BATCH, through);
      // Epoch before delivery: what was read is the current epoch's only if the stream still is.
      if (batch.length > 0) await this.ctx.confirmEpoch();
      for (const message of batch) {
        if (generation !== this.generation) return;
        if (!counted) {
          this.ctx.metrics.gapRepairs.inc();
          counted = true;
        }
        if (!follows(message, this.last)) {
          // Retention removed messages of the gap: the chain cannot continue.
          return this.resetToHead(generation);
        }
        this.remember(message);
        this.deliver({ ...message, prev: this.last }, generation);
      }
      if (batch.length < REPAIR_BATCH) return;
    }
  }

  /** The chain cannot continue: delivery restarts after `head`. */
  private resetTo(head: number, generation: number): void {
    if (generation !== this.generation || this.isClosed) return;
    this.last = head;
    this.ctx.noteHead(this.topic, head);
    safely(() => this.handlers.reset({ epoch: this.ctx.epoch(), head }));
  }

  private async resetToHead(generation: number): Promise<void> {
    this.ctx.metrics.backendReads.inc({ kind: "head" });
    const head = (await this.ctx.reader.last(this.topic))?.seq ?? 0;
    await this.ctx.confirmEpoch();
    this.resetTo(head, generation);
  }

  /** Remembers a message read from the stream, so that its live copy is known when it comes. */
  private remember(message: { readonly seq: number; readonly ts: number }): void {
    this.known.set(message.seq, message.ts);
    if (this.known.size > MAX_KNOWN_COPIES) this.known.delete(this.known.keys().next().value!);
  }

  private deliver(message: StoredMessage, generation: number): void {
    if (generation !== this.generation || this.isClosed) return;
    this.last = message.seq;
    this.ctx.noteHead(this.topic, message.seq);
    safely(() => this.handlers.message(message));
  }
}

/**
 * Whether a stored message provably follows `last` in its topic: its Herald-Prev (see
 * stream-writer.ts), the topic's last seq when it was stored, is exactly `last`. Anything else proves
 * nothing (docs/design.md#why-continuity-is-proven-by-equality-only): greater means messages in between
 * are gone, smaller that retention emptied the topic first (and may have taken messages after
 * `last` with it), none that it was not published by Herald.
 */
export function follows(message: ReadMessage, last: number): boolean {
  return message.prev === last;
}

/** What a queued live message holds: its data as a V8 string (at most 2 bytes a character), and objects. */
function feedBytes(message: StoredMessage): number {
  return 2 * message.data.length + MESSAGE_OVERHEAD_BYTES;
}

function safely(run: () => void): void {
  try {
    run();
  } catch {
    // A throwing handler belongs to the hub; the feed carries on.
  }
}
