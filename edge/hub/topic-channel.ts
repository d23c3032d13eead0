// Everything the hub holds for one topic with local subscribers: the live feed, the ring buffer of
// recent messages (each encoded once), the subscribers, and the replay logic that starts each
// subscription at the right place and hands it over to live delivery with no gap and no duplicate.
import type { FromLast, FromPosition } from "../../protocol/frames.js";
import type { EdgeMetrics } from "../common/metrics.js";
import type { Backend, LiveFeed, ReadFrom, ReadResult, StoredMessage } from "../backend/backend.js";
import { cacheMessage, messagesAfter, type CachedMessage } from "./cached-message.js";
import { SeqQueue } from "../common/seq-queue.js";
import {
  BudgetedQueue,
  evictOldest,
  heldMessageBytes,
  SharedHold,
  type HeldItems,
} from "../common/memory-budget.js";
import { SingleFlight } from "./single-flight.js";
import type { ReadBudget } from "./read-budget.js";
import type { TopicSubscription } from "./subscription.js";

export interface ChannelOptions {
  readonly cachePerTopic: number;
  readonly historyLimit: number;
  /** The edge's memory budget for held messages (edge/common/memory-budget.ts); absent: unbounded. */
  readonly held?: HeldItems<CachedMessage>;
  /** How long a replay may fall behind its moving topic before its subscriber is slow (REPLAY_PROGRESS_MS). */
  readonly replayProgressMs?: number;
}

/** A backend page with its messages already encoded, shared by every subscription that asked for it. */
interface SharedPage {
  readonly epoch: string;
  readonly head: number;
  readonly recovered: boolean;
  readonly messages: CachedMessage[];
  /** Its frames' UTF-8 bytes: what it costs each connection's read budget. */
  readonly frameBytes: number;
  /** Its bytes, counted against the memory budget while any reader uses it. */
  readonly hold: SharedHold | undefined;
}

/** One reader's share of a page: release() once it is done with it (idempotent). */
interface CachedPage extends Omit<SharedPage, "hold"> {
  readonly release: () => void;
}

type ReadKind = "resume" | "backfill";

/** Longest wait between retries of a failed replay page (the subscription already got its subok). */
const MAX_RETRY_MS = 5_000;
/** Reads in a row that bring nothing new before a replay gives up (recovered:false at the head). */
const MAX_FRUITLESS_READS = 5;
const FRUITLESS_PAUSE_MS = 20;
/**
 * A replay must converge on the live feed: when the topic moved and the replay did not get closer
 * to its head over this long, its subscriber reads slower than the topic is written and never
 * would: it is a slow consumer (docs/design.md#slow-consumers), not a replay that never ends.
 */
const REPLAY_PROGRESS_MS = 10_000;
/** How long a resume waits for the feed to restart in a re-created log's epoch the log confirmed. */
const EPOCH_WAIT_MS = 5_000;

export class TopicChannel {
  epoch = "";
  /** The seq of the last live message (the feed's head before any arrived). */
  head = 0;
  /** Bumped on every reset: replays started before it are void. */
  private generation = 0;
  private closed = false;
  /** Resumes waiting for the feed to restart in the epoch their position names (reachEpoch). */
  private readonly epochWaiters = new Set<() => void>();
  private feed: LiveFeed | undefined;
  /** Feed events that arrived before backend.live() resolved, replayed in order once it has. */
  private early: (() => void)[] | undefined = [];
  readonly ready: Promise<void>;

  /**
   * The last `cachePerTopic` live messages: a consecutive run ending at `head` (shorter when the
   * memory budget takes its oldest ones).
   */
  private readonly ring: SeqQueue<CachedMessage>;
  private readonly unregisterCache: (() => void) | undefined;
  /** The ring holds every message the backend retains up to `head` (so it answers any last:K). */
  private ringHoldsAll = false;
  private backfill: Promise<void> | undefined;
  private backfilled = false;
  private readonly reads = new SingleFlight<SharedPage>();

  private readonly subscribers = new Set<TopicSubscription>();
  /** Live messages received since the channel opened (admin stats derive rates from it). */
  messages = 0;

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Takes a subscription out of the topic's subscribers; false when it was not among them. */
  remove(subscription: TopicSubscription): boolean {
    return this.subscribers.delete(subscription);
  }

  constructor(
    readonly topic: string,
    private readonly backend: Backend,
    private readonly metrics: EdgeMetrics,
    private readonly options: ChannelOptions,
  ) {
    const held = options.held;
    this.ring = held ? new BudgetedQueue(held, "ring") : new SeqQueue();
    // Under memory pressure the topic gives up its oldest messages, ring and hand-over buffers together.
    this.unregisterCache = held?.budget.register({
      evictableBytes: () => this.heldBytes(),
      evict: (bytes) => {
        evictOldest(held.budget, this.budgetedQueues(), bytes);
        this.ringHoldsAll = false;
      },
    });
    this.ready = this.open();
  }

  /** The queues whose messages count against the budget: the ring and the hand-over buffers. */
  private budgetedQueues(): BudgetedQueue<CachedMessage>[] {
    const queues = [this.ring, ...[...this.subscribers].map((subscription) => subscription.buffer)];
    return queues.filter((queue) => queue instanceof BudgetedQueue);
  }

  private heldBytes(): number {
    return this.budgetedQueues().reduce((sum, queue) => sum + queue.heldBytes, 0);
  }

  close(): void {
    this.closed = true;
    this.generation++;
    this.feed?.close();
    this.feed = undefined;
    this.ring.clear();
    this.unregisterCache?.();
    this.reads.clear();
    for (const subscription of this.subscribers) {
      subscription.closed = true;
      subscription.buffer?.clear();
    }
    this.subscribers.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private async open(): Promise<void> {
    const feed = await this.backend.live(this.topic, {
      message: (message) => this.onFeedEvent(() => this.onMessage(message)),
      reset: (info) => this.onFeedEvent(() => this.onReset(info.epoch, info.head)),
    });
    if (this.closed) {
      feed.close();
      return;
    }
    this.feed = feed;
    this.epoch = feed.epoch;
    this.head = feed.head;
    this.ringHoldsAll = feed.head === 0;
    const early = this.early ?? [];
    this.early = undefined;
    for (const event of early) event();
  }

  private onFeedEvent(event: () => void): void {
    if (this.closed) return;
    if (this.early) this.early.push(event);
    else event();
  }

  private onMessage(message: StoredMessage): void {
    if (message.seq <= this.head) return;
    if (message.prev !== this.head) {
      // The feed broke its chain: what the ring holds no longer leads to this message. Each
      // subscriber sees the gap and repairs it from the log.
      this.metrics.gapRepairs.inc();
      this.ring.clear();
      this.ringHoldsAll = false;
    }
    const cached = cacheMessage(message);
    this.head = message.seq;
    this.messages++;
    // End to end: from the publishing edge's clock (ts) to this edge's; a skew below 0 counts as 0.
    this.metrics.deliveryLag.observe(Math.max(0, Date.now() - message.ts) / 1000);
    if (this.options.cachePerTopic > 0) {
      // Over the memory budget even after evictions: the ring starts again from this message on.
      if (!this.ring.push(cached)) {
        this.ring.clear();
        this.ringHoldsAll = false;
      }
      if (this.ring.length > this.options.cachePerTopic) {
        this.ring.shift();
        this.ringHoldsAll = false;
      }
    } else {
      this.ringHoldsAll = false;
    }
    let sent = 0;
    for (const subscription of this.subscribers) sent += subscription.offer(cached);
    if (sent > 0) this.metrics.deliveries.inc(sent);
  }

  /** The log was re-created or the chain cannot continue: every subscriber restarts at the new head. */
  private onReset(epoch: string, head: number): void {
    this.generation++;
    this.epoch = epoch;
    this.head = head;
    this.ring.clear();
    this.ringHoldsAll = head === 0;
    this.reads.clear();
    this.backfill = undefined;
    this.backfilled = false;
    for (const waiter of [...this.epochWaiters]) waiter();
    for (const subscription of this.subscribers) {
      // Already at the head of this same history (its subok sent, every message up to `head`
      // delivered): its chain goes on unbroken, so there is nothing to tell it. recovered:false
      // here would be needless (a JetStream feed resets at the head after repairing a gap whose
      // message the subscriber already had from its replay).
      if (subscription.epoch === epoch && subscription.pos === head) {
        subscription.goLive();
        continue;
      }
      this.restartAtHead(subscription);
    }
  }

  // ---- starting a subscription ----

  /** Adds the subscription and sends its subok (and the first part of its replay). */
  async start(subscription: TopicSubscription, from: FromPosition | FromLast | undefined): Promise<void> {
    if (from !== undefined && "epoch" in from && from.epoch !== this.epoch) {
      // Before it joins: a reset while it waits must not restart it at the head of either history.
      await this.reachEpoch(from.epoch);
      if (subscription.closed || this.closed) return;
    }
    this.subscribers.add(subscription);
    if (from === undefined) {
      subscription.sendSubOk(this.epoch, this.head, true);
      subscription.goLive();
    } else if ("last" in from) {
      await this.startLast(subscription, from.last);
    } else {
      await this.startResume(subscription, from);
    }
  }

  /**
   * A position in another epoch than this channel's may be in the log's newer one: a client that
   * came from an edge that saw the log re-created first. Refused at once, it would get recovered:false
   * at the old head and, once this edge adopts the new epoch, messages it already has. So the epoch
   * is confirmed with the log, and when the client's is current, the channel's feed restarts in it
   * (onReset) before the resume is answered. Bounded: a feed that does not restart in time leaves
   * the resume to be refused as before.
   */
  private async reachEpoch(epoch: string): Promise<void> {
    const confirmed = await this.backend.confirmedEpoch().catch(() => undefined);
    if (confirmed !== epoch || this.epoch === epoch) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.epochWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, EPOCH_WAIT_MS);
      this.epochWaiters.add(done);
    });
  }

  private async startResume(subscription: TopicSubscription, from: FromPosition): Promise<void> {
    if (from.epoch !== this.epoch) return this.resumeAtHead(subscription);
    const generation = this.generation;
    let fromRing = this.ringAfter(from.seq);
    if (fromRing === "unknown" && this.canBackfill()) {
      await this.ensureBackfill();
      if (this.voided(subscription, generation)) return;
      fromRing = this.ringAfter(from.seq);
    }
    if (fromRing === "invalid") return this.resumeAtHead(subscription);
    if (fromRing !== "unknown") {
      this.metrics.ringHits.inc();
      this.metrics.resumes.inc({ recovered: "true" });
      subscription.sendSubOk(this.epoch, from.seq, true);
      void this.catchUp(subscription, generation);
      return;
    }
    this.metrics.ringMisses.inc();
    const page = await this.read(
      { after: from.seq },
      this.options.historyLimit,
      "resume",
      subscription.reads,
    );
    if (this.voided(subscription, generation)) return page.release();
    if (page.epoch !== this.epoch || !page.recovered) {
      page.release();
      return this.resumeAtHead(subscription);
    }
    this.metrics.resumes.inc({ recovered: "true" });
    subscription.sendSubOk(this.epoch, from.seq, true);
    void this.catchUp(subscription, generation, page);
  }

  private async startLast(subscription: TopicSubscription, last: number): Promise<void> {
    const generation = this.generation;
    let fromRing = this.ringLast(last);
    if (fromRing === undefined && this.canBackfill()) {
      await this.ensureBackfill();
      if (this.voided(subscription, generation)) return;
      fromRing = this.ringLast(last);
    }
    if (fromRing !== undefined) {
      this.metrics.ringHits.inc();
      subscription.sendSubOk(this.epoch, fromRing[0]?.prev ?? this.head, true);
      void this.catchUp(subscription, generation);
      return;
    }
    this.metrics.ringMisses.inc();
    const page = await this.read({ last }, this.options.historyLimit, "resume", subscription.reads);
    if (this.voided(subscription, generation)) return page.release();
    if (page.epoch !== this.epoch) {
      page.release();
      return this.restartAtHead(subscription);
    }
    subscription.sendSubOk(this.epoch, page.messages[0]?.prev ?? page.head, true);
    void this.catchUp(subscription, generation, page);
  }

  /** subok with `recovered: false` at the current head, then live delivery. */
  /** A resume this edge cannot continue (another epoch, a gap in the log): recovered:false. */
  private resumeAtHead(subscription: TopicSubscription): void {
    this.metrics.resumes.inc({ recovered: "false" });
    this.restartAtHead(subscription);
  }

  private restartAtHead(subscription: TopicSubscription): void {
    subscription.sendSubOk(this.epoch, this.head, false);
    subscription.goLive();
  }

  /**
   * A replay that cannot catch up with its topic: the subscriber is a slow consumer (its
   * connection is closed with 4008 and resumes, losing nothing); one without a connection restarts
   * at the head with recovered:false.
   */
  private tooSlow(subscription: TopicSubscription): void {
    if (!subscription.slow()) this.restartAtHead(subscription);
  }

  /** True when the subscription no longer needs this replay (closed, or restarted by a reset). */
  private voided(subscription: TopicSubscription, generation: number): boolean {
    return subscription.closed || generation !== this.generation || !subscription.catchingUp;
  }

  // ---- catching up ----

  /** Called by a live subscription that saw a message not following its cursor. */
  repair(subscription: TopicSubscription): void {
    void this.catchUp(subscription, this.generation);
  }

  /**
   * Sends what follows the cursor (`first`, a page already read, then the ring, the hand-over
   * buffer or further pages from the log) until the subscription reaches the live feed, then goes
   * live. Paced by the subscriber's send buffer; a slow read or a slow reader delays only this
   * subscription.
   */
  private async catchUp(
    subscription: TopicSubscription,
    generation: number,
    first?: CachedPage,
  ): Promise<void> {
    let retryMs = 100;
    let fruitless = 0;
    let page = first;
    const progressMs = this.options.replayProgressMs ?? REPLAY_PROGRESS_MS;
    let window = { since: Date.now(), head: this.head, gap: this.head - subscription.pos };
    // The page in hand counts against the memory budget until it is sent or dropped.
    try {
      while (!this.voided(subscription, generation)) {
        if (Date.now() - window.since >= progressMs) {
          const gap = this.head - subscription.pos;
          if (this.head > window.head && gap >= window.gap) return this.tooSlow(subscription);
          window = { since: Date.now(), head: this.head, gap };
        }
        if (page === undefined) {
          const spliced = this.splice(subscription);
          if (spliced === "spliced") return;
          if (spliced === "invalid") return this.restartAtHead(subscription);
          if (spliced === "partial") {
            await subscription.drained();
            continue;
          }
          try {
            page = await this.read(
              { after: subscription.pos },
              this.options.historyLimit,
              "resume",
              subscription.reads,
            );
          } catch {
            // The subscription already has its subok: wait for the log to come back rather than skip.
            await sleep(retryMs);
            retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
            // Not the subscriber's slowness: its progress is measured from here.
            window = { since: Date.now(), head: this.head, gap: this.head - subscription.pos };
            continue;
          }
          retryMs = 100;
          if (this.voided(subscription, generation)) return;
          if (page.epoch !== this.epoch || !page.recovered) return this.restartAtHead(subscription);
        }
        const before = subscription.pos;
        if (!(await this.sendPage(subscription, page.messages, generation))) return;
        page.release();
        page = undefined;
        if (subscription.pos !== before) {
          fruitless = 0;
          continue;
        }
        // The log has nothing after the cursor although the feed is past it: a read served by a
        // replica that lags (JetStream direct get) catches up soon; a log that never does cannot
        // lead this subscription to the live feed.
        if (++fruitless > MAX_FRUITLESS_READS) return this.restartAtHead(subscription);
        await sleep(FRUITLESS_PAUSE_MS * fruitless);
      }
    } finally {
      page?.release();
    }
  }

  /** Sends a page as the subscriber drains; false when the replay was voided meanwhile. */
  private async sendPage(
    subscription: TopicSubscription,
    messages: readonly CachedMessage[],
    generation: number,
  ): Promise<boolean> {
    let rest = messages;
    for (;;) {
      this.countDeliveries(subscription.sendMessages(rest));
      const next = rest.findIndex((message) => message.seq > subscription.pos);
      // Done, or the page does not continue the cursor: the caller reads on from the cursor.
      if (next === -1 || rest[next]!.prev !== subscription.pos) return true;
      rest = rest.slice(next);
      await subscription.drained();
      if (this.voided(subscription, generation)) return false;
    }
  }

  /**
   * Continues a catching-up subscription from the ring or its hand-over buffer when they hold its
   * cursor: "spliced" once it reached the head (now live), "partial" when its send buffer took only
   * part (wait for it to drain), "unknown" when neither holds the cursor (read the log).
   */
  private splice(subscription: TopicSubscription): "spliced" | "partial" | "unknown" | "invalid" {
    for (const run of [this.ring, subscription.buffer]) {
      // At or beyond the head (the feed may lag the log): live delivery skips what it already has.
      if (subscription.pos >= this.head) {
        subscription.goLive();
        return "spliced";
      }
      if (!run) continue;
      const rest = messagesAfter(run, subscription.pos);
      if (rest === "unknown") continue;
      if (rest === "invalid") return "invalid";
      const sent = subscription.sendMessages(rest);
      this.countDeliveries(sent);
      if (subscription.held) return "partial";
      if (sent === 0) continue;
      if (subscription.pos < this.head) return "partial";
    }
    if (subscription.pos >= this.head) {
      subscription.goLive();
      return "spliced";
    }
    return "unknown";
  }

  // ---- ring ----

  /**
   * The ring's answer for a resume after `after`. The head itself needs no message. Position 0
   * is the backend's to answer: a first message's prev of 0 proves nothing about messages that
   * retention removed before it (JetStream numbers the first message after an emptied topic so).
   */
  ringAfter(after: number): CachedMessage[] | "unknown" | "invalid" {
    if (this.feed === undefined || after === 0) return "unknown";
    if (after === this.head) return [];
    return messagesAfter(this.ring, after);
  }

  /** The last K messages from the ring, or undefined when the ring may not hold them all. */
  private ringLast(last: number): CachedMessage[] | undefined {
    if (this.ring.length >= last) return this.ring.slice(this.ring.length - last);
    return this.ringHoldsAll ? this.ring.slice(0) : undefined;
  }

  private canBackfill(): boolean {
    return (
      this.options.cachePerTopic > 0 &&
      !this.backfilled &&
      !this.ringHoldsAll &&
      this.ring.length < this.options.cachePerTopic
    );
  }

  /** Fills the ring with the topic's latest retained messages, once, shared by every waiting resume. */
  private ensureBackfill(): Promise<void> {
    this.backfill ??= this.fillRing().catch(() => {
      // The waiting resumes fall back to their own reads, which report the failure to their callers.
      this.backfill = undefined;
    });
    return this.backfill;
  }

  private async fillRing(): Promise<void> {
    const generation = this.generation;
    const wanted = Math.min(this.options.cachePerTopic, this.options.historyLimit);
    const page = await this.read({ last: wanted }, wanted, "backfill");
    try {
      this.prependPage(page, generation, wanted);
    } finally {
      page.release();
    }
  }

  private prependPage(page: CachedPage, generation: number, wanted: number): void {
    if (generation !== this.generation || this.closed || page.epoch !== this.epoch) return;
    this.backfilled = true;
    const boundary = this.ring.first?.prev ?? this.head;
    if (boundary === 0) {
      this.ringHoldsAll = true;
      return;
    }
    const readAll = page.messages.length < wanted;
    const index = page.messages.findIndex((message) => message.seq === boundary);
    if (index < 0) {
      // Nothing retained at or before the ring's start: the ring already holds all there is.
      if (readAll && (page.messages[0]?.seq ?? Infinity) > boundary) this.ringHoldsAll = true;
      return;
    }
    const room = this.options.cachePerTopic - this.ring.length;
    const older = page.messages.slice(Math.max(0, index + 1 - room), index + 1);
    // The memory budget may take only the newest of them: then the ring cannot hold all there is.
    const added = this.ring.prepend(older);
    this.ringHoldsAll =
      (readAll && added === older.length && older.length === index + 1) || this.ring.first?.prev === 0;
  }

  // ---- backend reads ----

  /**
   * One read per (position, limit) at a time, its messages encoded once for every waiter. A read
   * after a position may be shared whenever it was started; "the last K" only while the topic's
   * head has not moved since, or a late subscriber would get more than the last K.
   */
  private async read(
    from: ReadFrom,
    limit: number,
    kind: ReadKind,
    allowance?: ReadBudget,
  ): Promise<CachedPage> {
    const budget = this.options.held?.budget;
    // Over the memory budget (what it holds cannot be evicted): reads wait until some is given back.
    if (budget) await budget.room();
    const key = "last" in from ? `last:${from.last}:${limit}:${this.head}` : `after:${from.after}:${limit}`;
    const shared = () =>
      this.reads.run(key, async () => {
        this.metrics.backendReads.inc({ kind });
        const result: ReadResult = await this.backend.read(this.topic, from, limit);
        const messages = result.messages.map(cacheMessage);
        const bytes = messages.reduce((sum, m) => sum + heldMessageBytes(m.frame.length, m.bytes), 0);
        return {
          epoch: result.epoch,
          head: result.head,
          recovered: result.recovered,
          messages,
          frameBytes: messages.reduce((sum, m) => sum + m.bytes, 0),
          hold: budget ? new SharedHold(budget, "replay", bytes) : undefined,
        };
      });
    // The connection's read budget: a read waits while what it read before is not paid for, and
    // each connection that asked pays for the page, also when the read was shared.
    const { hold, ...page } = allowance ? await allowance.run(shared, (p) => p.frameBytes) : await shared();
    return { ...page, release: hold?.acquire() ?? (() => undefined) };
  }

  private countDeliveries(sent: number): void {
    if (sent > 0) this.metrics.deliveries.inc(sent);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
