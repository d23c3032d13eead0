// One topic's subscription state: where it stands, what it asked the edge for, and the checks
// that make delivery at-most-once and in order. The `prev` chain proves each run is gap-free:
// a message is delivered only when its `prev` is exactly the seq the chain expects; anything else
// is either a duplicate (seq at or before the position: dropped) or a gap (re-subscribe from the
// position so the edge replays what is missing, never deliver out of order).
import type { ErrFrame, FromLast, MsgFrame, RequestId, SubFrame, SubOkFrame } from "../protocol/index.js";
import { Backoff } from "./backoff.js";
import { Emitter, type Listener } from "./emitter.js";
import { HeraldError } from "./errors.js";
import type { Position, PositionStorage } from "./storage.js";

/** Where a new subscription starts when no position is known (none given and none stored). */
export type SubscribeFrom = "live" | FromLast | Position;

/** A delivered message: the wire `msg` frame plus the epoch of the history it belongs to. */
export type HeraldMessage<T = unknown> = Omit<MsgFrame, "op" | "data"> & { data: T; epoch: string };

export type MessageHandler<T = unknown> = (message: HeraldMessage<T>) => void;

/** The edge could not honour the position: messages after `lost` (if any) are not coming. */
export interface ResyncInfo {
  readonly topic: string;
  /** The position the subscription stood at, or undefined if it had none yet. */
  readonly lost: Position | undefined;
  /** Where delivery continues (the next message has `prev === position.seq`). */
  readonly position: Position;
}

export interface SubscriptionEvents {
  resync: ResyncInfo;
  /** The edge refused the subscription for good (forbidden, invalid topic, limit); it has ended. */
  error: HeraldError;
}

/** What the client does for its subscriptions on the current connection. */
export interface SubscriptionHost {
  /** Send a `sub` for this subscription now if the connection is ready (else on the next open). */
  subscribeOnWire(subscription: Subscription<never>): void;
  /** Send `unsub` then `sub` from the current position, after a broken `prev` chain. */
  resubscribeOnWire(subscription: Subscription<never>): void;
  /** The application ended the subscription (send `unsub`), or the edge refused it for good. */
  remove(subscription: Subscription<never>, refusedByEdge: boolean): void;
  reportError(error: unknown): void;
}

/** Error codes after which asking again later can succeed. */
const RETRYABLE = new Set<string>(["unavailable", "internal", "rate_limited", "already_subscribed"]);

export type MessageOutcome = "delivered" | "duplicate" | "gap" | "ignored";

export class Subscription<T = unknown> {
  readonly #events: Emitter<SubscriptionEvents>;
  /** Last delivered message's position, or where the edge said delivery continues. */
  #position: Position | undefined;
  /** The `prev` the next message must carry; undefined while no `subok` is in force. */
  #expectPrev: number | undefined;
  /** The id of the `sub` request in flight or in force on this connection. */
  #requestId: RequestId | undefined;
  #loaded = false;
  #ended = false;
  readonly #retry = new Backoff();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly topic: string,
    private readonly from: SubscribeFrom,
    private readonly handler: MessageHandler<T>,
    private readonly host: SubscriptionHost,
    private readonly storage: PositionStorage | undefined,
  ) {
    this.#events = new Emitter((error) => host.reportError(error));
    if (typeof from === "object" && "epoch" in from) this.#position = { epoch: from.epoch, seq: from.seq };
    let stored: ReturnType<PositionStorage["load"]>;
    try {
      stored = storage?.load(topic);
    } catch (error) {
      // An unreadable store must not stop delivery: start as configured.
      host.reportError(error);
      stored = undefined;
    }
    if (stored instanceof Promise) {
      stored.then(
        (position) => this.#restore(position),
        (error: unknown) => {
          host.reportError(error);
          this.#restore(undefined);
        },
      );
    } else {
      this.#restore(stored);
    }
  }

  /** Position of the last delivered message (or the starting point the edge confirmed). */
  get position(): Position | undefined {
    return this.#position && { ...this.#position };
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Whether the subscription can be sent on a connection (its stored position has been read). */
  get ready(): boolean {
    return this.#loaded && !this.#ended;
  }

  on<K extends keyof SubscriptionEvents>(event: K, listener: Listener<SubscriptionEvents[K]>): () => void {
    return this.#events.on(event, listener);
  }

  off<K extends keyof SubscriptionEvents>(event: K, listener: Listener<SubscriptionEvents[K]>): void {
    this.#events.off(event, listener);
  }

  /** Stops delivery. The stored position is kept, so a later subscription resumes from it. */
  unsubscribe(): void {
    if (this.#ended) return;
    this.#end();
    this.host.remove(this, false);
  }

  // ---- used by the client ----

  /** The `sub` frame for a new request with this id: resume from the position when there is one. */
  subFrame(id: RequestId): SubFrame {
    this.#requestId = id;
    this.#expectPrev = undefined;
    const frame: SubFrame = { op: "sub", topic: this.topic, id };
    if (this.#position) frame.from = { epoch: this.#position.epoch, seq: this.#position.seq };
    else if (typeof this.from === "object") frame.from = { last: (this.from as FromLast).last };
    return frame;
  }

  /** The connection is gone: nothing is in force until the next `subok`. */
  connectionLost(): void {
    this.#requestId = undefined;
    this.#expectPrev = undefined;
    clearTimeout(this.#retryTimer);
  }

  handleSubOk(frame: SubOkFrame): void {
    if (this.#ended) return;
    // An answer to an earlier request (before a re-subscription) says nothing about the current one.
    // A `subok` without id is the edge's own restart of the subscription and always counts.
    if (frame.id !== undefined && frame.id !== this.#requestId) return;
    this.#retry.reset();
    const confirmed = { epoch: frame.epoch, seq: frame.seq };
    this.#expectPrev = frame.seq;
    if (!frame.recovered) {
      const lost = this.position;
      this.#position = confirmed;
      this.storage?.save(this.topic, confirmed);
      this.#events.emit("resync", { topic: this.topic, lost, position: confirmed });
      return;
    }
    if (!this.#position || this.#position.epoch !== frame.epoch || this.#position.seq < frame.seq) {
      this.#position = confirmed;
      this.storage?.save(this.topic, confirmed);
    }
  }

  handleMsg(frame: MsgFrame): MessageOutcome {
    if (this.#ended || this.#expectPrev === undefined || !this.#position) return "ignored";
    if (frame.seq <= this.#position.seq) {
      // Already delivered (a replay overlapping what we had): keep following the chain through it.
      if (frame.prev === this.#expectPrev) this.#expectPrev = frame.seq;
      return "duplicate";
    }
    if (frame.prev !== this.#expectPrev) {
      this.#expectPrev = undefined;
      this.host.resubscribeOnWire(this);
      return "gap";
    }
    this.#expectPrev = frame.seq;
    this.#position = { epoch: this.#position.epoch, seq: frame.seq };
    this.storage?.save(this.topic, this.#position);
    const { op: _op, ...message } = frame;
    try {
      this.handler({ ...message, data: message.data as T, epoch: this.#position.epoch });
    } catch (error) {
      this.host.reportError(error);
    }
    return "delivered";
  }

  /** The edge refused this subscription's request. Transient refusals are retried with backoff. */
  handleErr(frame: ErrFrame): void {
    if (this.#ended || frame.id === undefined || frame.id !== this.#requestId) return;
    this.#requestId = undefined;
    if (RETRYABLE.has(frame.code)) {
      clearTimeout(this.#retryTimer);
      // "already_subscribed" means an earlier subscription of ours is still in force on the edge
      // (an unsub that lost a race): replace it; otherwise simply ask again.
      const again = frame.code === "already_subscribed" ? this.host.resubscribeOnWire : this.host.subscribeOnWire;
      this.#retryTimer = setTimeout(() => again.call(this.host, this), this.#retry.next());
      return;
    }
    this.#end();
    this.host.remove(this, true);
    this.#events.emit("error", new HeraldError(frame.code, `subscription to ${this.topic} refused: ${frame.message}`));
  }

  /** Whether `id` is this subscription's current request. */
  owns(id: RequestId): boolean {
    return this.#requestId !== undefined && id === this.#requestId;
  }

  #restore(stored: Position | undefined): void {
    if (this.#ended) return;
    if (stored) this.#position = stored;
    this.#loaded = true;
    this.host.subscribeOnWire(this);
  }

  #end(): void {
    this.#ended = true;
    this.#expectPrev = undefined;
    clearTimeout(this.#retryTimer);
  }
}
