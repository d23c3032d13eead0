// One topic's subscription state: where it stands, what it asked the edge for, and the checks
// that make delivery exactly-once and in order. The `prev` chain proves each run is gap-free:
// a message is accepted only when its `prev` is exactly the seq the chain expects; anything else
// is either a duplicate (seq at or before the accepted position: dropped) or a gap (re-subscribe
// from the position so the edge replays what is missing, never deliver out of order).
// Accepted messages reach the handler one at a time, in order (a handler's promise is awaited
// before the next); a position is saved only once its handler has finished, so after an app crash
// the message being handled is delivered again (at-least-once across restarts).
import { ERROR_ADVICE } from "../protocol/codes.js";
import type { ErrFrame, MsgFrame, RequestId, SubFrame, SubOkFrame } from "./wire.js";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { Emitter, type Listener } from "./emitter.js";
import { HeraldError } from "./errors.js";
import type { Position, PositionStorage } from "./storage.js";

/**
 * Where a new subscription starts when no position is known (none given and none stored): "live"
 * (new messages only), `{ last: K }` (the last K retained messages, then live), or after a Position.
 */
export type SubscribeFrom = "live" | { last: number } | Position;

/** A delivered message: the wire `msg` frame (docs/protocol.md) plus the epoch of the history it belongs to. */
export interface HeraldMessage<T = unknown> extends Omit<MsgFrame, "op" | "data"> {
  /** The topic it was published to. */
  topic: string;
  /** Its number in the stream's log: increasing per topic, but shared by all topics (never compare two topics' seqs). */
  seq: number;
  /** The seq of the topic's previous message (0 for its first): the SDK checked it is the seq it delivered before. */
  prev: number;
  /** When it was stored, in ms since the Unix epoch (the edge's clock): for display, never for ordering. */
  ts: number;
  /** The JSON value as it was published. */
  data: T;
  /** The history it belongs to: with `seq`, its position. */
  epoch: string;
}

/**
 * May return a promise (any thenable): the next message of the subscription waits until it
 * settles. Typed `unknown` so that a one-line handler may return whatever its expression gives.
 */
export type MessageHandler<T = unknown> = (message: HeraldMessage<T>) => unknown;

/** Accepted messages a subscription may hold while its handler is busy (see SubscribeOptions.maxPending). */
export const DEFAULT_MAX_PENDING = 1000;

/** The edge could not honour the position: messages after `lost` (if any) are not coming. */
export interface ResyncInfo {
  /** The subscription's topic. */
  readonly topic: string;
  /** The position the subscription stood at, or undefined if it had none yet. */
  readonly lost: Position | undefined;
  /** Where delivery continues (the next message has `prev === position.seq`). */
  readonly position: Position;
}

/** What a subscription is doing: asking an edge for it, in force, or ended for good. */
export type SubscriptionState = "subscribing" | "subscribed" | "unsubscribed";

/** Why a subscription is being asked for (again). */
export interface SubscribingContext {
  /** The subscription's topic. */
  readonly topic: string;
  /**
   * "connecting": waiting for a connection (the first one, or after one was lost); "repairing": a
   * message was missing, the subscription is asked for again from its position; "paused": its
   * handler fell maxPending messages behind, it resumes from its position once caught up.
   */
  readonly reason: "connecting" | "repairing" | "paused";
  /** Where it will resume from (undefined: none yet, it starts as `from` says). */
  readonly position: Position | undefined;
}

/** An edge confirmed the subscription (its `subok`). */
export interface SubscribedContext {
  /** The subscription's topic. */
  readonly topic: string;
  /** The subscription asked to continue after a position it had (stored, given, or its own). */
  readonly wasRecovering: boolean;
  /**
   * It was recovering and the edge honoured the position: nothing was missed. Recovering and not
   * recovered means messages were lost to retention or a re-created stream: a `resync` event follows
   * (after the messages accepted before it).
   */
  readonly recovered: boolean;
  /** Where delivery continues: the next message has prev === position.seq. */
  readonly position: Position;
}

/** The subscription ended; it receives nothing more. */
export interface UnsubscribedContext {
  /** The subscription's topic. */
  readonly topic: string;
  /** "unsubscribed": by unsubscribe(); "refused": the edge refused it for good (see `error`); "closed": the client was closed. */
  readonly reason: "unsubscribed" | "refused" | "closed";
  /** With "refused": what the edge said. */
  readonly error?: HeraldError;
}

/** Events of a subscription; each listener gets the listed arguments. */
export interface SubscriptionEvents {
  /** No longer (or not yet) in force: being asked for, after a lost connection, a gap or a pause. */
  subscribing: [context: SubscribingContext];
  /** An edge confirmed it: delivery continues after `position`; `recovered` says whether nothing was missed. */
  subscribed: [context: SubscribedContext];
  /** It ended for good: unsubscribe(), a refusal by the edge, or the client closed. */
  unsubscribed: [context: UnsubscribedContext];
  /** The edge could not honour the position: messages after `lost` (if any) are not coming. */
  resync: [info: ResyncInfo];
  /** The edge refused the subscription for good (forbidden, invalid topic, limit); it has ended. */
  error: [error: HeraldError];
}

/** What the client does for its subscriptions on the current connection. */
export interface SubscriptionHost {
  /** Send a `sub` for this subscription now if the connection is ready (else on the next open). */
  subscribeOnWire(subscription: Subscription<never>): void;
  /** Send `unsub` then `sub` from the current position, after a broken `prev` chain. */
  resubscribeOnWire(subscription: Subscription<never>): void;
  /** Send `unsub` but keep the subscription: it stops receiving until it subscribes again. */
  pauseOnWire(subscription: Subscription<never>): void;
  /** The application ended the subscription (send `unsub`), or the edge refused it for good. */
  remove(subscription: Subscription<never>, refusedByEdge: boolean): void;
  reportError(error: unknown): void;
  /** Delays between retries of a `sub` the edge refused for now: the client's own backoff options. */
  retryBackoff(): BackoffOptions;
}

export type MessageOutcome = "accepted" | "duplicate" | "gap" | "ignored";
/** A `subok` that confirmed the subscription for the first time in its life, another one, or one ignored. */
export type SubOkOutcome = "first" | "again" | "ignored";

/** One step of delivery, in order: a message for the handler or a resync for the listeners. */
interface Delivery {
  /** Where the subscription stands once this step is done (saved then). */
  readonly position: Position;
  readonly run?: () => unknown;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

/**
 * One topic's subscription, made by HeraldClient.subscribe(): it delivers the topic's messages to
 * its handler once each, in order, and says what it is doing by its events.
 */
export class Subscription<T = unknown> {
  readonly #events: Emitter<SubscriptionEvents>;
  /** Last accepted message's position (or where the edge said delivery continues): dedupe and resume. */
  #accepted: Position | undefined;
  /** Last fully delivered step (its handler returned or its promise settled): what is saved. */
  #position: Position | undefined;
  /** Accepted steps not yet done, oldest first (the first may be running); at most maxPending. */
  #pending: Delivery[] = [];
  /** A handler's promise is pending: later steps wait. */
  #delivering = false;
  /** Unsubscribed on the wire because `pending` is full; subscribes again once it is empty. */
  #paused = false;
  /** The `prev` the next message must carry; undefined while no `subok` is in force. */
  #expectPrev: number | undefined;
  /** The id of the `sub` request in flight or in force on this connection. */
  #requestId: RequestId | undefined;
  #loaded = false;
  #ended = false;
  /** An edge has confirmed this subscription at least once. */
  #confirmed = false;
  #state: SubscriptionState = "subscribing";
  /** The request in flight asked to continue after a position the subscription had. */
  #wasRecovering = false;
  readonly #retry: Backoff;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  /** @internal Made by HeraldClient.subscribe(). */
  constructor(
    /** The subscription's topic. */
    readonly topic: string,
    private readonly from: SubscribeFrom,
    private readonly maxPending: number,
    private readonly handler: MessageHandler<T>,
    private readonly host: SubscriptionHost,
    private readonly storage: PositionStorage | undefined,
  ) {
    this.#events = new Emitter((error) => host.reportError(error));
    this.#retry = new Backoff(host.retryBackoff());
    if (typeof from === "object" && "epoch" in from) this.#setBoth({ epoch: from.epoch, seq: from.seq });
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

  /**
   * Position of the last delivered message — its handler returned (or its promise settled) — or
   * the starting point the edge confirmed. This is what storage holds.
   */
  get position(): Position | undefined {
    return this.#position && { ...this.#position };
  }

  /** Whether the subscription has ended (state `unsubscribed`). */
  get ended(): boolean {
    return this.#ended;
  }

  /** subscribing (asked for, not confirmed yet), subscribed (in force), unsubscribed (ended). */
  get state(): SubscriptionState {
    return this.#state;
  }

  /**
   * Resolves once the subscription is in force (at once if it is), with what its `subscribed`
   * event said; rejects if it ends first.
   */
  ready(): Promise<SubscribedContext | undefined> {
    if (this.#state === "subscribed") return Promise.resolve(undefined);
    if (this.#state === "unsubscribed")
      return Promise.reject(new HeraldError("closed", `herald: the subscription to ${this.topic} has ended`));
    return new Promise((resolve, reject) => {
      const offSubscribed = this.#events.once("subscribed", (context) => {
        offEnded();
        resolve(context);
      });
      const offEnded = this.#events.once("unsubscribed", (context) => {
        offSubscribed();
        reject(
          context.error ?? new HeraldError("closed", `herald: the subscription to ${this.topic} has ended`),
        );
      });
    });
  }

  /** @internal Whether the subscription can be sent on a connection (its stored position has been read, not paused). */
  get canSubscribe(): boolean {
    return this.#loaded && !this.#ended && !this.#paused;
  }

  /** Adds a listener (typed by event: see SubscriptionEvents); returns a function that removes it. */
  on<K extends keyof SubscriptionEvents>(event: K, listener: Listener<SubscriptionEvents[K]>): () => void {
    return this.#events.on(event, listener);
  }

  /** Removes a listener added with on(). */
  off<K extends keyof SubscriptionEvents>(event: K, listener: Listener<SubscriptionEvents[K]>): void {
    this.#events.off(event, listener);
  }

  /**
   * Stops delivery. The stored position is kept, so a later subscription resumes from it; a
   * handler still running then does not move it (its message is delivered again next time).
   */
  unsubscribe(): void {
    if (this.#ended) return;
    this.#end();
    this.host.remove(this, false);
    this.#events.emit("unsubscribed", { topic: this.topic, reason: "unsubscribed" });
  }

  // ---- used by the client ----

  /** @internal The `sub` frame for a new request with this id: resume from the position when there is one. */
  subFrame(id: RequestId): SubFrame {
    this.#requestId = id;
    this.#expectPrev = undefined;
    const frame: SubFrame = { op: "sub", topic: this.topic, id };
    if (this.#accepted) frame.from = { epoch: this.#accepted.epoch, seq: this.#accepted.seq };
    else if (typeof this.from === "object") frame.from = { last: (this.from as { last: number }).last };
    this.#wasRecovering = this.#accepted !== undefined;
    return frame;
  }

  /** @internal The connection is gone: nothing is in force until the next `subok`. */
  connectionLost(): void {
    this.#requestId = undefined;
    this.#expectPrev = undefined;
    clearTimeout(this.#retryTimer);
    this.#subscribing("connecting");
  }

  /** @internal The client was closed: the subscription ends with it. */
  clientClosed(): void {
    if (this.#ended) return;
    this.#end();
    this.#events.emit("unsubscribed", { topic: this.topic, reason: "closed" });
  }

  /** @internal */
  handleSubOk(frame: SubOkFrame): SubOkOutcome {
    if (this.#ended || this.#paused) return "ignored";
    // An answer to an earlier request (before a re-subscription) says nothing about the current one.
    // A `subok` without id is the edge's own restart of the subscription and always counts.
    if (frame.id !== undefined && frame.id !== this.#requestId) return "ignored";
    this.#retry.reset();
    const outcome = this.#confirmed ? "again" : "first";
    this.#confirmed = true;
    const confirmed = { epoch: frame.epoch, seq: frame.seq };
    this.#expectPrev = frame.seq;
    this.#state = "subscribed";
    this.#events.emit("subscribed", {
      topic: this.topic,
      wasRecovering: this.#wasRecovering,
      recovered: this.#wasRecovering && frame.recovered,
      position: { ...confirmed },
    });
    if (this.#ended) return outcome;
    if (!frame.recovered) {
      const lost = this.#accepted && { ...this.#accepted };
      this.#accepted = confirmed;
      // After the messages accepted before it, like any other step.
      this.#deliver({
        position: confirmed,
        run: () => this.#events.emit("resync", { topic: this.topic, lost, position: confirmed }),
      });
      return outcome;
    }
    if (!this.#accepted || this.#accepted.epoch !== frame.epoch || this.#accepted.seq < frame.seq) {
      this.#accepted = confirmed;
      this.#deliver({ position: confirmed });
    }
    return outcome;
  }

  /** @internal */
  handleMsg(frame: MsgFrame): MessageOutcome {
    if (this.#ended || this.#expectPrev === undefined || !this.#accepted) return "ignored";
    if (frame.seq <= this.#accepted.seq) {
      // Already accepted (a replay overlapping what we had): keep following the chain through it.
      if (frame.prev === this.#expectPrev) this.#expectPrev = frame.seq;
      return "duplicate";
    }
    if (frame.prev !== this.#expectPrev) {
      this.#expectPrev = undefined;
      this.#subscribing("repairing");
      this.host.resubscribeOnWire(this);
      return "gap";
    }
    this.#expectPrev = frame.seq;
    const position = { epoch: this.#accepted.epoch, seq: frame.seq };
    this.#accepted = position;
    const { op: _op, ...message } = frame;
    const delivery = { ...message, data: message.data as T, epoch: position.epoch };
    this.#deliver({ position, run: () => this.handler(delivery) });
    if (this.#pending.length >= this.maxPending) this.#pause();
    return "accepted";
  }

  /** @internal The edge refused this subscription's request. Transient refusals are retried with backoff. */
  handleErr(frame: ErrFrame): void {
    if (this.#ended || frame.id === undefined || frame.id !== this.#requestId) return;
    this.#requestId = undefined;
    const advice = ERROR_ADVICE[frame.code];
    if (advice === "retry" || advice === "unsub_first") {
      clearTimeout(this.#retryTimer);
      // "unsub_first" (already_subscribed): an earlier subscription of ours is still in force on the
      // edge (an unsub that lost a race): replace it; otherwise simply ask again.
      const again = advice === "unsub_first" ? this.host.resubscribeOnWire : this.host.subscribeOnWire;
      this.#retryTimer = setTimeout(() => again.call(this.host, this), this.#retry.next());
      return;
    }
    this.#end();
    this.host.remove(this, true);
    const error = new HeraldError(frame.code, `subscription to ${this.topic} refused: ${frame.message}`);
    this.#events.emit("unsubscribed", { topic: this.topic, reason: "refused", error });
    this.#events.emit("error", error);
  }

  /** @internal Whether `id` is this subscription's current request. */
  owns(id: RequestId): boolean {
    return this.#requestId !== undefined && id === this.#requestId;
  }

  #restore(stored: Position | undefined): void {
    if (this.#ended) return;
    if (stored) this.#setBoth(stored);
    this.#loaded = true;
    this.host.subscribeOnWire(this);
  }

  #setBoth(position: Position): void {
    this.#accepted = position;
    this.#position = position;
  }

  /** Queues a step and runs what can run now: synchronous handlers run before this returns. */
  #deliver(delivery: Delivery): void {
    this.#pending.push(delivery);
    if (!this.#delivering) this.#drain();
  }

  #drain(): void {
    this.#delivering = true;
    while (!this.#ended) {
      const delivery = this.#pending[0];
      if (!delivery) break;
      let result: unknown;
      try {
        result = delivery.run?.();
      } catch (error) {
        // Reported, not retried: one failing message must not stop the topic.
        this.host.reportError(error);
      }
      if (isThenable(result)) {
        // Stays `delivering`: later steps wait for this one, in order.
        void Promise.resolve(result)
          .then(undefined, (error: unknown) => this.host.reportError(error))
          .then(() => {
            this.#completed(delivery);
            this.#drain();
          });
        return;
      }
      this.#completed(delivery);
    }
    this.#delivering = false;
    if (this.#paused && !this.#ended && this.#pending.length === 0) {
      // Worked through what it held: ask the edge for what came meanwhile (replayed from the log).
      this.#paused = false;
      this.host.subscribeOnWire(this);
    }
  }

  /** The step is done: only now may its position be saved (a crash before this repeats it). */
  #completed(delivery: Delivery): void {
    if (this.#ended) return;
    this.#pending.shift();
    this.#position = delivery.position;
    this.storage?.save(this.topic, delivery.position);
  }

  /** The handler fell `maxPending` messages behind: stop receiving rather than buffer without bound. */
  #pause(): void {
    this.#paused = true;
    this.#expectPrev = undefined;
    this.#requestId = undefined;
    clearTimeout(this.#retryTimer);
    this.#subscribing("paused");
    this.host.pauseOnWire(this);
  }

  /** No subok in force any more: say so once, with why. */
  #subscribing(reason: SubscribingContext["reason"]): void {
    if (this.#state !== "subscribed") return;
    this.#state = "subscribing";
    this.#events.emit("subscribing", {
      topic: this.topic,
      reason,
      position: this.#accepted && { ...this.#accepted },
    });
  }

  #end(): void {
    this.#state = "unsubscribed";
    this.#ended = true;
    this.#expectPrev = undefined;
    this.#pending = [];
    clearTimeout(this.#retryTimer);
  }
}
