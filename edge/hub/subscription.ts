// One local subscriber of a topic, seen from the hub: a cursor (`pos`, the last seq it was sent)
// that makes delivery exact whatever the source (ring, backend pages, live feed): a message is sent
// only when its `prev` equals the cursor. While the subscription is catching up (replaying from the
// ring or the backend), live messages are kept in a bounded hand-over buffer and spliced on `prev`.
import { encodeEdgeFrame } from "../../protocol/edge-frames.js";
import type { RequestId } from "../../protocol/frames.js";
import type { CachedMessage } from "./cached-message.js";
import type { ReadBudget } from "./read-budget.js";
import type { SeqQueue } from "../common/seq-queue.js";

export interface Subscriber {
  /** Queue one already-encoded edge frame (text, one JSON object) for this subscriber's socket. */
  send(frame: string): void;
  /**
   * How many more bytes (UTF-8, as the frames go out) a replay may queue now. A replay (resume, last K) sends only what
   * fits and waits for `drained()` before the rest, so a backlog larger than the connection's send
   * buffer is paced by the client's reading instead of ending in 4008 on every reconnect. Live
   * messages are never held back: a subscriber that cannot keep up with live traffic is slow.
   * Absent: no limit.
   */
  room?(): number;
  /**
   * Whether nothing at all is queued for the subscriber's socket. The progress guarantee is per
   * connection: a replayed message larger than room() goes only then, so however many replays run
   * on one connection, at most one message at a time exceeds the room. Absent: per subscription.
   */
  idle?(): boolean;
  /**
   * Resolves once the subscriber's socket has taken what was queued (or the subscriber is gone),
   * and `bytes` fit in room() or the socket is idle.
   */
  drained?(bytes: number): Promise<void>;
  /** The budget of the subscriber's connection for reading the log (shared by its subscriptions). */
  readonly reads?: ReadBudget;
  /**
   * A replay of this subscriber's cannot catch up with its topic (it reads slower than the topic
   * is written): close its connection as a slow consumer (4008).
   */
  slow?(): void;
}

export interface HubSubscription {
  readonly topic: string;
  close(): void;
}

/**
 * What a subscription reports to the topic it belongs to. One object per topic, shared by all of its
 * subscriptions, so that a subscription holds no callbacks of its own.
 */
export interface SubscriptionOwner {
  /** Live messages a hand-over buffer holds at most. */
  readonly bufferLimit: number;
  /** Called once, by close(): detaches the subscription from its topic. */
  detach(subscription: TopicSubscription): void;
  /** A live message does not follow the subscription's cursor: the topic must repair it. */
  repair(subscription: TopicSubscription): void;
  /** A new hand-over buffer (one whose messages count against the edge's memory budget). */
  newBuffer(): SeqQueue<CachedMessage>;
}

export class TopicSubscription implements HubSubscription {
  /** The seq of the last message sent (or the position delivery continues from). */
  pos = 0;
  /** The epoch of the last subok sent (undefined before the first): the history `pos` is in. */
  epoch: string | undefined;
  /** Bytes of the replayed message the last sendMessages held back for want of room (0: none). */
  private heldBytes = 0;
  /** Live messages held while catching up; undefined once the subscription is live. */
  buffer: SeqQueue<CachedMessage> | undefined;
  closed = false;

  constructor(
    readonly topic: string,
    private readonly subscriber: Subscriber,
    private readonly id: RequestId | undefined,
    /** The topic it belongs to (one object for all of the topic's subscriptions). */
    private readonly owner: SubscriptionOwner,
  ) {
    this.buffer = owner.newBuffer();
  }

  get catchingUp(): boolean {
    return this.buffer !== undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.buffer?.clear();
    this.buffer = undefined;
    this.owner.detach(this);
  }

  /** Sends `subok`: delivery continues after `seq`. */
  sendSubOk(epoch: string, seq: number, recovered: boolean): void {
    this.pos = seq;
    this.epoch = epoch;
    this.send(
      encodeEdgeFrame({
        op: "subok",
        ...(this.id === undefined ? {} : { id: this.id }),
        topic: this.topic,
        epoch,
        seq,
        recovered,
      }),
    );
  }

  /**
   * Sends the messages that continue the cursor's chain, as far as the subscriber has room for a
   * replay (and one beyond it when its connection is idle, so a replay always progresses); returns
   * how many were sent. `held` tells whether it stopped for want of room.
   */
  sendMessages(messages: readonly CachedMessage[]): number {
    let sent = 0;
    let room = this.subscriber.room?.() ?? Infinity;
    this.heldBytes = 0;
    for (const message of messages) {
      if (message.seq <= this.pos) continue;
      if (message.prev !== this.pos) break;
      if (message.bytes > room && (sent > 0 || !(this.subscriber.idle?.() ?? true))) {
        this.heldBytes = message.bytes;
        break;
      }
      room -= message.bytes;
      this.pos = message.seq;
      this.send(message.frame);
      sent++;
    }
    return sent;
  }

  /** Ends catching up: live delivery starts after the cursor. */
  goLive(): void {
    this.buffer?.clear();
    this.buffer = undefined;
  }

  /** Tells the subscriber it is a slow consumer; false when it has no way to hear it. */
  slow(): boolean {
    if (!this.subscriber.slow) return false;
    this.subscriber.slow();
    return true;
  }

  /** The read budget of the subscriber's connection, if it has one. */
  get reads(): ReadBudget | undefined {
    return this.subscriber.reads;
  }

  /** Whether the last sendMessages stopped because the subscriber had no room for the next one. */
  get held(): boolean {
    return this.heldBytes > 0;
  }

  /** Waits until the subscriber can take more of a replay (the message held back, if any). */
  drained(): Promise<void> {
    return this.subscriber.drained?.(this.heldBytes) ?? Promise.resolve();
  }

  /** Restarts catching up from the current cursor, holding live messages from `first` on. */
  startCatchingUp(first?: CachedMessage): void {
    this.buffer?.clear();
    this.buffer = this.owner.newBuffer();
    if (first) this.buffer.push(first);
  }

  /** A live message of the topic; returns 1 when it was sent to the socket, else 0. */
  offer(message: CachedMessage): number {
    if (this.closed) return 0;
    if (this.buffer) {
      // The buffer must stay one consecutive run ending at the topic's head.
      if (this.buffer.last && this.buffer.last.seq !== message.prev) this.buffer.clear();
      // Refused by the memory budget: an empty run is still a run (the replay reads the log instead).
      if (!this.buffer.push(message)) this.buffer.clear();
      if (this.buffer.length > this.owner.bufferLimit) this.buffer.shift();
      return 0;
    }
    if (message.seq <= this.pos) return 0;
    if (message.prev !== this.pos) {
      this.startCatchingUp(message);
      this.owner.repair(this);
      return 0;
    }
    this.pos = message.seq;
    this.send(message.frame);
    return 1;
  }

  private send(frame: string): void {
    try {
      this.subscriber.send(frame);
    } catch {
      // A failing socket is its session's business; the other subscribers must still be served.
    }
  }
}
