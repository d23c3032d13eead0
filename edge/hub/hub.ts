// The hub: per-topic fan-out inside one edge, backend-agnostic (docs/design.md#the-path-of-one-message,
// docs/design.md#subscribing-and-resuming).
// A topic's live feed is held only while it has local subscribers; each message is encoded once and
// the same string goes to every subscriber; resumes are served from the topic's ring buffer when it
// covers them, else from the backend with one shared read per position (single-flight).
import type { From, RequestId } from "../../protocol/frames.js";
import type { EdgeMetrics } from "../common/metrics.js";
import { BackendUnavailableError, type Backend, type ReadResult } from "../backend/backend.js";
import { BudgetedQueue, HeldItems, heldMessageBytes, type MemoryBudget } from "../common/memory-budget.js";
import type { CachedMessage } from "./cached-message.js";
import { TopicChannel, type ChannelOptions } from "./topic-channel.js";
import { SeqQueue } from "../common/seq-queue.js";
import {
  TopicSubscription,
  type HubSubscription,
  type Subscriber,
  type SubscriptionOwner,
} from "./subscription.js";

export type { HubSubscription, Subscriber } from "./subscription.js";

/** One topic with local subscribers, as GET /v1/admin/stats reports it. */
export interface TopicStats {
  readonly topic: string;
  readonly subscribers: number;
  /** Live messages received since its feed opened on this edge. */
  readonly messages: number;
}

export interface HubOptions {
  /** Recent messages kept per subscribed topic for resumes (HERALD_CACHE_PER_TOPIC). */
  cachePerTopic: number;
  /** Largest page of one backend read (HERALD_HISTORY_LIMIT). */
  historyLimit: number;
  /** The edge's memory budget: rings and hand-over buffers count against it. Absent: unbounded. */
  budget?: MemoryBudget;
  /** See REPLAY_PROGRESS_MS in topic-channel.ts (tests shorten it). */
  replayProgressMs?: number;
}

/**
 * A topic with local subscribers: its channel and how many subscriptions (and subscribes in flight)
 * hold it open. Its subscriptions report to it (SubscriptionOwner).
 */
class TopicEntry implements SubscriptionOwner {
  interest = 0;

  constructor(
    readonly topic: string,
    readonly channel: TopicChannel,
    readonly bufferLimit: number,
    private readonly metrics: EdgeMetrics,
    private readonly held: HeldItems<CachedMessage> | undefined,
    /** The hub's topics, which this entry leaves when its last interest goes. */
    private readonly topics: Map<string, TopicEntry>,
  ) {}

  detach(subscription: TopicSubscription): void {
    if (this.channel.remove(subscription)) this.metrics.subscriptions.dec();
    this.release();
  }

  /** Drops one unit of interest; the last one closes the topic's feed. */
  release(): void {
    this.interest--;
    if (this.interest > 0 || this.topics.get(this.topic) !== this) return;
    this.topics.delete(this.topic);
    this.metrics.topics.dec();
    this.channel.close();
  }

  repair(subscription: TopicSubscription): void {
    this.channel.repair(subscription);
  }

  newBuffer(): SeqQueue<CachedMessage> {
    return this.held ? new BudgetedQueue(this.held, "handover") : new SeqQueue();
  }
}

export class Hub {
  private readonly channels = new Map<string, TopicEntry>();
  private closed = false;
  /** Every message a ring or hand-over buffer holds, counted once against the memory budget. */
  private readonly held: HeldItems<CachedMessage> | undefined;
  private readonly channelOptions: ChannelOptions;

  constructor(
    private readonly backend: Backend,
    private readonly metrics: EdgeMetrics,
    private readonly options: HubOptions,
  ) {
    this.held = options.budget
      ? new HeldItems<CachedMessage>(options.budget, (m) => heldMessageBytes(m.frame.length, m.bytes))
      : undefined;
    this.channelOptions = { ...options, held: this.held };
  }

  /**
   * Sends (via subscriber.send, in this order) the `subok` frame, then the replayed messages, then
   * live ones. `from` undefined = live only; {epoch, seq} = resume after seq; {last:K} = the last K
   * retained messages, then live. `id` is echoed in subok. Resolves once subok was sent (a long
   * replay continues in the background). Rejects with BackendUnavailableError when the log is
   * unreachable; nothing was sent then.
   */
  async subscribe(
    topic: string,
    subscriber: Subscriber,
    from: From | undefined,
    id?: RequestId,
  ): Promise<HubSubscription> {
    if (this.closed) throw new BackendUnavailableError("the edge is shutting down");
    const entry = this.acquire(topic);
    const { channel } = entry;
    const subscription = new TopicSubscription(topic, subscriber, id, entry);
    try {
      await channel.ready;
      if (channel.isClosed) throw new BackendUnavailableError("the edge is shutting down");
      // Counted from the moment it joins the topic's subscribers (start adds it synchronously).
      this.metrics.subscriptions.inc();
      await channel.start(subscription, from);
      if (channel.isClosed) throw new BackendUnavailableError("the edge is shutting down");
    } catch (error) {
      // Still a member unless close() of the whole hub already removed and uncounted it.
      if (channel.remove(subscription)) this.metrics.subscriptions.dec();
      subscription.closed = true;
      entry.release();
      throw asUnavailable(error);
    }
    return subscription;
  }

  /**
   * History for the HTTP API. Served from the ring when it holds a full page after `after` (a short
   * page must mean "nothing more yet", and the live feed may lag the log), else from the backend.
   */
  async history(topic: string, after: number, limit: number): Promise<ReadResult> {
    const channel = this.channels.get(topic)?.channel;
    const fromRing = channel?.ringAfter(after);
    if (channel && Array.isArray(fromRing) && fromRing.length >= limit) {
      return {
        epoch: channel.epoch,
        head: channel.head,
        recovered: true,
        messages: fromRing.slice(0, limit).map((m) => m.message),
      };
    }
    this.metrics.backendReads.inc({ kind: "history" });
    try {
      return await this.backend.read(topic, { after, orOldest: true }, limit);
    } catch (error) {
      throw asUnavailable(error);
    }
  }

  /** Every topic with local subscribers (for the admin endpoint; not on any delivery path). */
  *topicStats(): Iterable<TopicStats> {
    for (const [topic, { channel }] of this.channels)
      yield { topic, subscribers: channel.subscriberCount, messages: channel.messages };
  }

  /** Closes every feed; subscriptions stop receiving. */
  close(): void {
    this.closed = true;
    for (const { channel } of this.channels.values()) {
      this.metrics.subscriptions.dec(channel.subscriberCount);
      channel.close();
    }
    this.metrics.topics.dec(this.channels.size);
    this.channels.clear();
  }

  /** The topic's channel, opening its live feed for the first local subscriber. */
  private acquire(topic: string): TopicEntry {
    let entry = this.channels.get(topic);
    if (!entry) {
      entry = new TopicEntry(
        topic,
        new TopicChannel(topic, this.backend, this.metrics, this.channelOptions),
        Math.max(this.options.cachePerTopic, this.options.historyLimit),
        this.metrics,
        this.held,
        this.channels,
      );
      // A failed open is reported to the waiting subscribes; it must not be an unhandled rejection.
      entry.channel.ready.catch(() => {});
      this.channels.set(topic, entry);
      this.metrics.topics.inc();
    }
    entry.interest++;
    return entry;
  }
}

function asUnavailable(error: unknown): BackendUnavailableError {
  if (error instanceof BackendUnavailableError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new BackendUnavailableError(`the message log is unreachable: ${message}`);
}
