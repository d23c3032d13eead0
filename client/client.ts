// HeraldClient: one WebSocket to an edge, kept alive across drops, drains and token expiry.
// The connection life cycle lives here; per-topic ordering lives in Subscription, publishes in
// PublishTracker, delays in Backoff, tokens in TokenProvider.
import { closeAdvice, CloseCode, SUBPROTOCOL } from "../protocol/codes.js";
import { topicProblem } from "../protocol/topic.js";
import { decodeEdgeFrames } from "./decode.js";
import type { ClientFrame, EdgeFrame, ErrFrame, RequestId } from "./wire.js";
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff.js";
import { Emitter, type Listener } from "./emitter.js";
import { HeraldError } from "./errors.js";
import { newMsgId, PublishTracker, type PublishResult } from "./publish-tracker.js";
import type { PositionStorage } from "./storage.js";
import {
  DEFAULT_MAX_PENDING,
  Subscription,
  type MessageHandler,
  type SubscribeFrom,
  type SubscriptionHost,
} from "./subscription.js";
import { refreshDelay, TokenProvider, type TokenSource } from "./token.js";
import {
  defaultWebSocket,
  OPEN,
  websocketUrl,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./websocket.js";

export type ClientState = "connecting" | "open" | "reconnecting" | "closed";

export interface HeraldClientOptions {
  /** The edge: `wss://host` (the path /v1/ws is added), `wss://host/v1/ws`, or http(s) equivalents. */
  url: string;
  /** A JWT, or a function returning a fresh one (called again before `exp` and after 4001/4003). */
  token?: TokenSource;
  /** Where subscription positions are persisted (e.g. webStoragePositions()); none by default. */
  storage?: PositionStorage;
  /** WebSocket implementation; the global one by default (the Node entry passes `ws`). */
  WebSocket?: WebSocketConstructor;
  /** Reconnect delays (and retries of a `sub` the edge refused for now): exponential backoff with full jitter. */
  backoff?: Partial<BackoffOptions>;
}

export interface SubscribeOptions {
  /** Where to start when no position is stored: "live" (default), `{ last: K }` or `{ epoch, seq }`. */
  from?: SubscribeFrom;
  /**
   * Accepted messages held while the handler's promise is pending (default 1000). When that many
   * wait, the subscription stops receiving (`unsub`) and, once the handler has caught up,
   * subscribes again from its position: the edge replays the rest from its log.
   */
  maxPending?: number;
}

export interface PublishOptions {
  /** Deduplication id: a publish repeated with the same msgId is stored once. Generated when absent. */
  msgId?: string;
}

export interface ClientEvents {
  state: ClientState;
  /** Something went wrong that the client handles by itself (it reconnects); for logging. */
  error: Error;
}

/** Close codes the client itself uses on its socket. */
const CLIENT_CLOSE = { normal: 1000, heartbeat: 4000, malformed: CloseCode.Malformed } as const;
type TimerName = "reconnect" | "refresh" | "heartbeat" | "drain";
/** Retry delay for a failed token refresh while the current token is still valid. */
const REFRESH_RETRY_MS = 2_000;
/** Floor on refresh scheduling, so a token function that keeps returning a near-expired token cannot spin. */
const MIN_REFRESH_MS = 1_000;

export class HeraldClient {
  readonly #url: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #storage: PositionStorage | undefined;
  readonly #tokens: TokenProvider;
  readonly #backoffOptions: BackoffOptions;
  readonly #backoff: Backoff;
  readonly #events = new Emitter<ClientEvents>();
  readonly #subscriptions = new Map<string, Subscription<never>>();
  readonly #publishes = new PublishTracker();
  /** ids of unsub requests: their replies need no handling. */
  readonly #quietRequests = new Set<RequestId>();
  /** ids of pings in flight on this connection. */
  readonly #pings = new Set<RequestId>();
  /** The heartbeat interval the edge announced in its welcome. */
  #heartbeatMs: number | undefined;

  #state: ClientState = "connecting";
  #ws: WebSocketLike | undefined;
  /** Welcome received and (with a token) authenticated: frames may be sent. */
  #ready = false;
  #welcomed = false;
  /** The connection's first auth frame was acknowledged (or no token is used). */
  #authenticated = false;
  #authRequest: { id: RequestId; token: string; initial: boolean } | undefined;
  /** The token the edge refused (4001/4003): connect again only with a different one. */
  #refusedToken: string | undefined;
  /** A `reconnect` frame asked us not to come back before this time (ms since the epoch). */
  #reconnectNotBefore: number | undefined;
  #lastReceived = 0;
  /**
   * The current connection made progress (see #progress): only then is the reconnect backoff reset,
   * so connections that keep closing without progress are spaced ever wider, up to maxMs.
   */
  #progressed = false;
  /** When the current connection became ready (ms since the epoch). */
  #readySince = 0;
  #nextId = 1;
  readonly #timers: Record<TimerName, ReturnType<typeof setTimeout> | undefined> = {
    reconnect: undefined,
    refresh: undefined,
    heartbeat: undefined,
    drain: undefined,
  };

  constructor(options: HeraldClientOptions) {
    this.#url = websocketUrl(options.url);
    this.#WebSocket = options.WebSocket ?? defaultWebSocket();
    this.#storage = options.storage;
    this.#tokens = new TokenProvider(options.token);
    this.#backoffOptions = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#backoff = new Backoff(this.#backoffOptions);
    void this.#connect();
  }

  get state(): ClientState {
    return this.#state;
  }

  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): () => void {
    return this.#events.on(event, listener);
  }

  off<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): void {
    this.#events.off(event, listener);
  }

  /**
   * Subscribes to one topic. Messages reach `handler` exactly once and in order while the client
   * lives, across reconnects; one at a time (a returned promise is awaited before the next).
   * One subscription per topic per client.
   */
  subscribe<T = unknown>(topic: string, handler: MessageHandler<T>): Subscription<T>;
  subscribe<T = unknown>(
    topic: string,
    options: SubscribeOptions,
    handler: MessageHandler<T>,
  ): Subscription<T>;
  subscribe<T = unknown>(
    topic: string,
    optionsOrHandler: SubscribeOptions | MessageHandler<T>,
    maybeHandler?: MessageHandler<T>,
  ): Subscription<T> {
    const [options, handler] =
      typeof optionsOrHandler === "function" ? [{}, optionsOrHandler] : [optionsOrHandler, maybeHandler];
    if (typeof handler !== "function") throw new TypeError("herald: subscribe needs a message handler");
    if (this.#state === "closed") throw new HeraldError("closed", "herald: the client is closed");
    const problem = topicProblem(topic);
    if (problem)
      throw new HeraldError("invalid_topic", `herald: invalid topic ${JSON.stringify(topic)}: ${problem}`);
    if (this.#subscriptions.has(topic)) {
      throw new HeraldError("already_subscribed", `herald: already subscribed to ${topic} on this client`);
    }
    const maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    if (!Number.isSafeInteger(maxPending) || maxPending < 1) {
      throw new TypeError(
        `herald: maxPending must be a whole number of at least 1, got ${String(maxPending)}`,
      );
    }
    const subscription = new Subscription<T>(
      topic,
      options.from ?? "live",
      maxPending,
      handler,
      this.#host,
      this.#storage,
    );
    if (!subscription.ended) this.#subscriptions.set(topic, subscription as Subscription<never>);
    return subscription;
  }

  /**
   * Publishes `data` to `topic` (needs a token with publish rights). Resolves once stored; a publish
   * interrupted by a disconnect is sent again with the same msgId, so it is stored once.
   */
  publish(topic: string, data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    if (this.#state === "closed")
      return Promise.reject(new HeraldError("closed", "herald: the client is closed"));
    const problem = topicProblem(topic);
    if (problem) {
      return Promise.reject(
        new HeraldError("invalid_topic", `herald: invalid topic ${JSON.stringify(topic)}: ${problem}`),
      );
    }
    const frame = { op: "pub", topic, data, id: this.#newId(), msgId: options.msgId ?? newMsgId() } as const;
    const result = this.#publishes.add(frame);
    if (this.#ready) this.#send(frame);
    return result;
  }

  /** Closes the connection for good: subscriptions end, unacknowledged publishes are rejected. */
  close(): void {
    if (this.#state === "closed") return;
    const ws = this.#ws;
    this.#finish(new HeraldError("closed", "herald: the client was closed"));
    ws?.close(CLIENT_CLOSE.normal, "client closed");
  }

  // ---- connection life cycle ----

  async #connect(): Promise<void> {
    this.#timers.reconnect = undefined;
    if (this.#state === "closed") return;
    let token: string | undefined;
    try {
      token =
        this.#refusedToken === undefined
          ? await this.#tokens.forConnect(Date.now())
          : await this.#tokens.fetch();
    } catch (error) {
      this.#reportError(error);
      this.#scheduleReconnect(this.#backoff.next());
      return;
    }
    if (this.#closed()) return;
    if (this.#refusedToken !== undefined) {
      if (token === this.#refusedToken) {
        // Still the token the edge refused: asking again would only be refused again.
        this.#scheduleReconnect(this.#backoff.next());
        return;
      }
      this.#refusedToken = undefined;
    }
    let ws: WebSocketLike;
    try {
      ws = new this.#WebSocket(this.#url, SUBPROTOCOL);
    } catch (error) {
      this.#reportError(error);
      this.#scheduleReconnect(this.#backoff.next());
      return;
    }
    this.#ws = ws;
    this.#welcomed = false;
    this.#authenticated = token === undefined;
    this.#ready = false;
    this.#progressed = false;
    this.#lastReceived = Date.now();
    ws.onopen = () => {
      if (ws !== this.#ws) return;
      if (token !== undefined) this.#sendAuth(token, true);
    };
    ws.onmessage = (event) => this.#receive(ws, event.data);
    ws.onclose = (event) => this.#lost(ws, event.code, event.reason);
    // An error is always followed by a close event, which does the handling.
    ws.onerror = () => {};
  }

  #scheduleReconnect(delayMs: number): void {
    if (this.#state === "closed") return;
    this.#setState(this.#state === "connecting" ? "connecting" : "reconnecting");
    clearTimeout(this.#timers.reconnect);
    this.#timers.reconnect = setTimeout(() => void this.#connect(), delayMs);
  }

  /** The socket is gone (closed by the edge, the network, or us): decide when to come back. */
  #lost(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.#ws) return;
    const wasReady = this.#ready;
    this.#ws = undefined;
    this.#ready = false;
    this.#authRequest = undefined;
    this.#quietRequests.clear();
    this.#pings.clear();
    for (const timer of ["refresh", "heartbeat", "drain"] as const) {
      clearTimeout(this.#timers[timer]);
      this.#timers[timer] = undefined;
    }
    for (const subscription of this.#subscriptions.values()) subscription.connectionLost();
    if (this.#state === "closed") return;
    if (this.#state === "open") this.#setState("reconnecting");

    const advice = closeAdvice(code);
    if (advice === "new_token") {
      const refused = new HeraldError(
        code === CloseCode.Forbidden ? "forbidden" : "unauthenticated",
        `herald: the edge closed the connection with ${code}${reason ? `: ${reason}` : ""}`,
      );
      this.#reportError(refused);
      if (!this.#tokens.refreshable) {
        // A fixed token (or none) cannot change: retrying would be refused forever.
        this.#finish(refused);
        return;
      }
      this.#refusedToken = this.#tokens.current ?? "";
      this.#scheduleReconnect(this.#backoff.next());
      return;
    }
    const notBefore = this.#reconnectNotBefore;
    this.#reconnectNotBefore = undefined;
    if (notBefore !== undefined) this.#scheduleReconnect(Math.max(0, notBefore - Date.now()));
    else if (wasReady && advice === "resume" && (code === CloseCode.Draining || this.#progressed))
      this.#scheduleReconnect(0);
    else this.#scheduleReconnect(this.#backoff.next());
  }

  /**
   * The connection did something a new connection would not do by itself, which proves that
   * connecting works: a subscription accepted a new message, a subscription was confirmed for the
   * first time, a publish got its answer, or a ping was answered after the connection had been
   * ready for a whole heartbeat interval. Only this resets the reconnect backoff: a connection that
   * is welcomed and then closed again (4008 with nothing new, 4009, 4400, a token refused after the
   * welcome) counts as a failed attempt. After a 1001 (draining) the client comes back at once
   * anyway; after a 4008 only when the connection made progress.
   */
  #progress(): void {
    this.#progressed = true;
    this.#backoff.reset();
  }

  /** Stops using `ws` at once (without waiting for a closing handshake a dead peer never answers). */
  #drop(ws: WebSocketLike, code: number, reason: string): void {
    this.#lost(ws, code, reason);
    ws.close(code, reason);
  }

  #becomeReadyWhenAuthenticated(): void {
    if (this.#welcomed && this.#authenticated && !this.#ready) this.#becomeReady();
  }

  /** Welcome received and, with a token, the token accepted: (re)subscribe and (re)publish. */
  #becomeReady(): void {
    this.#ready = true;
    this.#readySince = Date.now();
    this.#setState("open");
    for (const subscription of this.#subscriptions.values()) {
      if (subscription.ready) this.#send(subscription.subFrame(this.#newId()));
    }
    for (const frame of this.#publishes.unacknowledged()) this.#send(frame);
    this.#scheduleRefresh();
  }

  #finish(error: HeraldError): void {
    for (const timer of Object.keys(this.#timers) as TimerName[]) clearTimeout(this.#timers[timer]);
    this.#ws = undefined;
    this.#ready = false;
    // Not ready any more, so this only ends them (no unsub is sent on a closing connection).
    for (const subscription of [...this.#subscriptions.values()]) subscription.unsubscribe();
    this.#publishes.rejectAll(error);
    this.#setState("closed");
  }

  // ---- incoming frames ----

  #receive(ws: WebSocketLike, data: unknown): void {
    if (ws !== this.#ws) return;
    this.#lastReceived = Date.now();
    let frames: EdgeFrame[];
    try {
      if (typeof data !== "string")
        throw new Error("herald: binary frame received; herald.v1 uses text frames only");
      frames = decodeEdgeFrames(data);
    } catch (error) {
      // Guessing at a frame we cannot read could lose or reorder messages; a fresh connection resumes cleanly.
      this.#reportError(new HeraldError("protocol", error instanceof Error ? error.message : String(error)));
      this.#drop(ws, CLIENT_CLOSE.malformed, "malformed frame");
      return;
    }
    for (const frame of frames) {
      if (ws !== this.#ws) return; // a frame of this batch ended the connection
      this.#dispatch(ws, frame);
    }
  }

  #dispatch(ws: WebSocketLike, frame: EdgeFrame): void {
    switch (frame.op) {
      case "welcome":
        this.#welcomed = true;
        this.#startHeartbeat(ws, frame.heartbeatMs);
        this.#becomeReadyWhenAuthenticated();
        return;
      case "subok":
        if (this.#subscriptions.get(frame.topic)?.handleSubOk(frame) === "first") this.#progress();
        return;
      case "msg":
        if (this.#subscriptions.get(frame.topic)?.handleMsg(frame) === "accepted") this.#progress();
        return;
      case "ack":
        if (this.#authRequest?.id === frame.id) this.#authAccepted();
        else if (this.#publishes.has(frame.id)) {
          this.#publishes.handleAck(frame);
          this.#progress();
        } else if (this.#pings.has(frame.id)) {
          this.#pings.delete(frame.id);
          if (this.#heartbeatMs !== undefined && Date.now() - this.#readySince >= this.#heartbeatMs)
            this.#progress();
        } else this.#quietRequests.delete(frame.id);
        return;
      case "err":
        this.#handleErr(ws, frame);
        return;
      case "reconnect":
        // Stay on this connection until the edge's chosen moment (it spreads clients over time),
        // then move; if the edge closes first, still do not come back before that moment.
        this.#reconnectNotBefore = Date.now() + frame.afterMs;
        clearTimeout(this.#timers.drain);
        this.#timers.drain = setTimeout(() => {
          if (ws === this.#ws) this.#drop(ws, CLIENT_CLOSE.normal, "reconnect requested by the edge");
        }, frame.afterMs);
        return;
    }
  }

  #handleErr(ws: WebSocketLike, frame: ErrFrame): void {
    const id = frame.id;
    if (id !== undefined && this.#authRequest?.id === id) {
      const { initial, token } = this.#authRequest;
      this.#authRequest = undefined;
      this.#reportError(new HeraldError(frame.code, `herald: token refused: ${frame.message}`));
      if (initial) {
        // Same as a 4001 close: come back only with a different token.
        this.#drop(ws, CloseCode.Unauthenticated, frame.message);
      } else if (this.#tokens.current === token) {
        this.#timers.refresh = setTimeout(() => void this.#refresh(), REFRESH_RETRY_MS);
      }
      return;
    }
    if (id !== undefined && this.#publishes.has(id)) {
      this.#publishes.handleErr(frame);
      return this.#progress();
    }
    if (id !== undefined && (this.#quietRequests.delete(id) || this.#pings.delete(id))) return;
    if (id !== undefined) {
      for (const subscription of this.#subscriptions.values()) {
        if (subscription.owns(id)) return subscription.handleErr(frame);
      }
    }
    this.#reportError(new HeraldError(frame.code, `herald: edge error: ${frame.message}`));
  }

  // ---- authentication and token refresh ----

  #sendAuth(token: string, initial: boolean): void {
    const id = this.#newId();
    this.#authRequest = { id, token, initial };
    this.#send({ op: "auth", token, id });
  }

  #authAccepted(): void {
    const initial = this.#authRequest?.initial ?? false;
    this.#authRequest = undefined;
    if (!initial) return this.#scheduleRefresh();
    this.#authenticated = true;
    this.#becomeReadyWhenAuthenticated();
  }

  #scheduleRefresh(): void {
    clearTimeout(this.#timers.refresh);
    const token = this.#tokens.current;
    if (!this.#tokens.refreshable || token === undefined) return;
    const delay = refreshDelay(token, Date.now());
    if (delay === undefined) return;
    this.#timers.refresh = setTimeout(() => void this.#refresh(), Math.max(MIN_REFRESH_MS, delay));
  }

  async #refresh(): Promise<void> {
    const ws = this.#ws;
    const previous = this.#tokens.current;
    let token: string | undefined;
    try {
      token = await this.#tokens.fetch();
    } catch (error) {
      this.#reportError(error);
      if (ws === this.#ws && this.#ready)
        this.#timers.refresh = setTimeout(() => void this.#refresh(), REFRESH_RETRY_MS);
      return;
    }
    if (ws !== this.#ws || !this.#ready || token === undefined) return;
    if (token === previous) this.#scheduleRefresh();
    else this.#sendAuth(token, false);
  }

  // ---- heartbeat ----

  /**
   * An application-level ping each interval. A connection that has received nothing since the
   * previous ping (sent at least an interval ago) is dead — a half-open TCP connection never
   * reports a close — and is replaced. Judged from the last ping rather than from wall-clock
   * silence, so a background tab whose timers the browser throttles is not mistaken for dead.
   */
  #startHeartbeat(ws: WebSocketLike, intervalMs: number): void {
    clearTimeout(this.#timers.heartbeat);
    this.#heartbeatMs = intervalMs;
    let pingSentAt: number | undefined;
    const beat = () => {
      if (ws !== this.#ws) return;
      if (pingSentAt !== undefined && this.#lastReceived < pingSentAt) {
        this.#reportError(new HeraldError("unavailable", "herald: the edge stopped answering; reconnecting"));
        this.#drop(ws, CLIENT_CLOSE.heartbeat, "heartbeat timeout");
        return;
      }
      const id = this.#newId();
      this.#pings.add(id);
      this.#send({ op: "ping", id });
      pingSentAt = Date.now();
      this.#timers.heartbeat = setTimeout(beat, intervalMs);
    };
    this.#timers.heartbeat = setTimeout(beat, intervalMs);
  }

  // ---- helpers ----

  readonly #host: SubscriptionHost = {
    retryBackoff: () => this.#backoffOptions,
    subscribeOnWire: (subscription) => {
      if (this.#ready && subscription.ready) this.#send(subscription.subFrame(this.#newId()));
    },
    resubscribeOnWire: (subscription) => {
      if (!this.#ready || !subscription.ready) return;
      this.#sendUnsub(subscription.topic);
      this.#send(subscription.subFrame(this.#newId()));
    },
    pauseOnWire: (subscription) => {
      if (this.#ready) this.#sendUnsub(subscription.topic);
    },
    remove: (subscription, refusedByEdge) => {
      if (this.#subscriptions.get(subscription.topic) !== subscription) return;
      this.#subscriptions.delete(subscription.topic);
      if (refusedByEdge || !this.#ready) return;
      this.#sendUnsub(subscription.topic);
    },
    reportError: (error) => this.#reportError(error),
  };

  #sendUnsub(topic: string): void {
    const id = this.#newId();
    this.#quietRequests.add(id);
    this.#send({ op: "unsub", topic, id });
  }

  #send(frame: ClientFrame): void {
    const ws = this.#ws;
    if (ws?.readyState !== OPEN) return; // whatever was not sent is sent again on the next connection
    ws.send(JSON.stringify(frame));
  }

  #newId(): number {
    return this.#nextId++;
  }

  /** A method, not a field read, so TypeScript does not narrow it across an await. */
  #closed(): boolean {
    return this.#state === "closed";
  }

  #setState(state: ClientState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#events.emit("state", state);
  }

  #reportError(error: unknown): void {
    this.#events.emit("error", error instanceof Error ? error : new Error(String(error)));
  }
}
