// HeraldClient: one connection to an edge — a WebSocket, or Server-Sent Events where WebSockets are
// refused — kept alive across drops, drains and token expiry, under the application's control
// (connect(), disconnect(), close()). The connection life cycle lives here; per-topic ordering lives
// in Subscription, publishes in PublishTracker, delays in Backoff, tokens in TokenProvider, the SSE
// transport in SseSocket (which the client drives like a WebSocket).
import { closeAdvice, CloseCode, SUBPROTOCOL } from "../protocol/codes.js";
import { topicProblem } from "../protocol/topic.js";
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff.js";
import { decodeEdgeFrames } from "./decode.js";
import { Emitter, type Listener } from "./emitter.js";
import { HeraldError } from "./errors.js";
import { newMsgId, PublishTracker, type PublishResult } from "./publish-tracker.js";
import { SseSocket, type FetchLike } from "./sse.js";
import type { PositionStorage } from "./storage.js";
import {
  DEFAULT_MAX_PENDING,
  Subscription,
  type MessageHandler,
  type SubscribeFrom,
  type SubscriptionHost,
} from "./subscription.js";
import { TokenProvider, type TokenSource } from "./token.js";
import {
  defaultWebSocket,
  httpUrl,
  OPEN,
  websocketUrl,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./websocket.js";
import type { ClientFrame, EdgeFrame, ErrFrame, Limits as WireLimits, PubFrame, RequestId } from "./wire.js";

/**
 * - `disconnected`: not connected and not trying (autoConnect: false before connect(), or after disconnect())
 * - `connecting`: trying to connect, not connected yet since connect() (or since the client was made)
 * - `open`: connected; subscriptions are sent, publishes go out
 * - `reconnecting`: the connection was lost; trying again (with backoff) and resuming
 * - `suspended`: trying for longer than `suspendAfterMs`: a long outage the application may show
 * - `closed`: closed for good, by close() or a refusal no retry can change (a fixed token refused)
 */
export type ClientState = "disconnected" | "connecting" | "open" | "reconnecting" | "suspended" | "closed";

/** How the client reaches an edge. */
export type TransportKind = "websocket" | "sse";

/** The limits an edge announces in its `welcome` (docs/protocol.md "Connection"). */
export interface Limits extends WireLimits {
  /** The largest frame the edge reads, in UTF-8 bytes; the SDK refuses a larger publish itself (`payload_too_large`). */
  maxFrameBytes: number;
  /** The most subscriptions one connection may hold. */
  maxSubscriptions: number;
  /** Bytes the edge may hold unsent for one connection before it closes it with 4008 (slow consumer). */
  sendBufferBytes: number;
  /** The most frames a client may send per second (bursts of twice that). */
  framesPerSecond: number;
  /** The most publishes per second on one connection (beyond: `rate_limited`). */
  publishesPerSecond: number;
}

/** What a `state` event says besides the new state. */
export interface StateChange {
  /** The new state. */
  readonly state: ClientState;
  /** The state before. */
  readonly previous: ClientState;
  /** When a connection ended: its close code (1006: cut without one). */
  readonly code?: number;
  /** When a connection ended: the reason that came with its close code. */
  readonly reason?: string;
  /** The error that ended the client (`closed`), or that the last attempt failed with. */
  readonly error?: Error;
  /** On `open`: the transport of the connection. */
  readonly transport?: TransportKind;
}

/** What `new HeraldClient(options)` takes: only `url` is required. */
export interface HeraldClientOptions {
  /** The edge: `https://host` or `wss://host` (paths /v1/ws and /v1/sse are added), or `wss://host/v1/ws`. */
  url: string;
  /** A JWT, or a function returning a fresh one (called again before `exp` and after 4001/4003). */
  token?: TokenSource;
  /** Where subscription positions are persisted (e.g. webStoragePositions()); none by default. */
  storage?: PositionStorage;
  /** Connect as soon as the client is made (default true); false: only once connect() is called. */
  autoConnect?: boolean;
  /**
   * The transports to use, the preferred first (default ["websocket", "sse"]). With two, the client
   * falls back to the second when `fallbackAfter` attempts in a row with the first got no welcome
   * while the edge answered GET /readyz (a proxy that refuses WebSocket upgrades), and keeps to it
   * for 5 minutes once it worked.
   */
  transports?: readonly TransportKind[];
  /** Failed attempts with the preferred transport before one with the other (default 2). */
  fallbackAfter?: number;
  /** An attempt without a welcome within this long has failed (default 10 s). */
  connectTimeoutMs?: number;
  /** Trying for longer than this without a connection is `suspended` (default 60 s). */
  suspendAfterMs?: number;
  /** WebSocket implementation; the global one by default (browsers, Node 22+; else the `ws` package). */
  WebSocket?: WebSocketConstructor;
  /** fetch implementation for the SSE transport; the global one by default. */
  fetch?: FetchLike;
  /** Reconnect delays (and retries of a `sub` the edge refused for now): exponential backoff with full jitter. */
  backoff?: Partial<BackoffOptions>;
}

/** What `client.subscribe(topic, options, handler)` takes. */
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

/** What `client.publish(topic, data, options)` takes. */
export interface PublishOptions {
  /** Deduplication id: a publish repeated with the same msgId on the same topic is stored once. Generated when absent. */
  msgId?: string;
}

/** Events of the client; each listener gets the listed arguments. */
export interface ClientEvents {
  /** The client's state changed: the new state, and what changed (close code and reason, transport). */
  state: [state: ClientState, change: StateChange];
  /** Something went wrong that the client handles by itself (it reconnects); for logging. */
  error: [error: Error];
}

/** Close codes the client itself uses on its socket. */
const CLIENT_CLOSE = { normal: 1000, heartbeat: 4000, malformed: CloseCode.Malformed } as const;
type TimerName = "reconnect" | "refresh" | "heartbeat" | "drain" | "connect" | "suspend";
/** Retry delay for a failed token refresh while the current token is still valid. */
const REFRESH_RETRY_MS = 2_000;
/** Floor on refresh scheduling, so a token function that keeps returning a near-expired token cannot spin. */
const MIN_REFRESH_MS = 1_000;
/** After falling back, the preferred transport is tried again on connections made after this long. */
const FALLBACK_STICKS_MS = 5 * 60_000;
const DEFAULTS = { fallbackAfter: 2, connectTimeoutMs: 10_000, suspendAfterMs: 60_000 };

/**
 * A client of one Herald service: subscriptions delivered exactly once and in order across
 * reconnects, edges and transports; publishes stored once. Connects when made (unless
 * `autoConnect: false`) and stays connected until close().
 */
export class HeraldClient {
  readonly #url: string;
  readonly #WebSocket: WebSocketConstructor | undefined;
  readonly #fetch: FetchLike | undefined;
  readonly #storage: PositionStorage | undefined;
  readonly #tokens: TokenProvider;
  readonly #backoffOptions: BackoffOptions;
  readonly #backoff: Backoff;
  readonly #transports: readonly TransportKind[];
  readonly #options: typeof DEFAULTS;
  readonly #events = new Emitter<ClientEvents>();
  readonly #subscriptions = new Map<string, Subscription<never>>();
  readonly #publishes = new PublishTracker();
  /** ids of unsub requests: their replies need no handling. */
  readonly #quietRequests = new Set<RequestId>();
  /** ids of pings in flight on this connection. */
  readonly #pings = new Set<RequestId>();

  #state: ClientState;
  #ws: WebSocketLike | undefined;
  /** The transport of the current connection attempt. */
  #transport: TransportKind | undefined;
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
  /** The heartbeat interval and limits the edge announced in its welcome. */
  #heartbeatMs: number | undefined;
  #limits: Limits | undefined;
  /** Attempts in a row with the preferred transport that got no welcome. */
  #preferredFailures = 0;
  /** The fallback transport is used for connections made before this time (ms since the epoch). */
  #fallbackUntil = 0;
  /** The close of the last connection (or failed attempt), for the next state event. */
  #lastClose: { code: number; reason: string } | undefined;
  #lastError: Error | undefined;
  #readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Counts connection attempts (and disconnect()s): an attempt that awaited a token checks it is still the latest. */
  #attempts = 0;
  #nextId = 1;
  readonly #timers: Record<TimerName, ReturnType<typeof setTimeout> | undefined> = {
    reconnect: undefined,
    refresh: undefined,
    heartbeat: undefined,
    drain: undefined,
    connect: undefined,
    suspend: undefined,
  };

  constructor(options: HeraldClientOptions) {
    this.#url = options.url;
    // Checked now, so that a wrong URL fails here rather than on every attempt.
    websocketUrl(options.url);
    this.#transports = options.transports ?? ["websocket", "sse"];
    if (
      this.#transports.length === 0 ||
      this.#transports.length > 2 ||
      this.#transports.some((kind) => kind !== "websocket" && kind !== "sse") ||
      new Set(this.#transports).size !== this.#transports.length
    ) {
      throw new TypeError(`herald: transports must list "websocket" and/or "sse" once each`);
    }
    this.#WebSocket =
      options.WebSocket ?? (this.#transports.includes("websocket") ? defaultWebSocket() : undefined);
    this.#fetch = options.fetch ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : undefined);
    if (this.#transports.includes("sse") && this.#fetch === undefined && this.#transports.length === 1)
      throw new TypeError("herald: the sse transport needs fetch (pass { fetch })");
    this.#storage = options.storage;
    this.#tokens = new TokenProvider(options.token);
    this.#backoffOptions = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#backoff = new Backoff(this.#backoffOptions);
    this.#options = {
      fallbackAfter: options.fallbackAfter ?? DEFAULTS.fallbackAfter,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      suspendAfterMs: options.suspendAfterMs ?? DEFAULTS.suspendAfterMs,
    };
    this.#state = options.autoConnect === false ? "disconnected" : "connecting";
    if (this.#state === "connecting") this.#startTrying();
  }

  /** The client's state now (see ClientState); every change is a `state` event. */
  get state(): ClientState {
    return this.#state;
  }

  /** The transport of the current connection (or attempt); undefined while none. */
  get transport(): TransportKind | undefined {
    return this.#ws ? this.#transport : undefined;
  }

  /** The limits the edge announced on the current (or last) connection. */
  get limits(): Limits | undefined {
    return this.#limits && { ...this.#limits };
  }

  /** Adds a listener (typed by event: see ClientEvents); returns a function that removes it. */
  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): () => void {
    return this.#events.on(event, listener);
  }

  /** Removes a listener added with on(). */
  off<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): void {
    this.#events.off(event, listener);
  }

  /**
   * Resolves once the client is open (at once if it is); rejects if it is closed first. A client
   * that is `disconnected` waits for connect().
   */
  ready(): Promise<void> {
    if (this.#state === "open") return Promise.resolve();
    if (this.#state === "closed")
      return Promise.reject(this.#lastError ?? new HeraldError("closed", "herald: the client is closed"));
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /**
   * Connects (after `autoConnect: false`, or after disconnect()). Subscriptions and publishes made
   * meanwhile are sent once connected; subscriptions resume from their positions. Does nothing
   * while connecting or connected.
   */
  connect(): void {
    if (this.#state === "closed") throw new HeraldError("closed", "herald: the client is closed");
    if (this.#state !== "disconnected") return;
    this.#backoff.reset();
    this.#preferredFailures = 0;
    this.#fallbackUntil = 0;
    this.#setState("connecting");
    this.#startTrying();
  }

  /**
   * Closes the connection and stops trying (logout, a hidden tab): `disconnected`. Subscriptions stay
   * with their positions and publishes not yet acknowledged stay queued: connect() resumes them all.
   */
  disconnect(): void {
    if (this.#state === "closed" || this.#state === "disconnected") return;
    const ws = this.#ws;
    this.#attempts++;
    this.#stopConnection();
    clearTimeout(this.#timers.suspend);
    this.#lastClose = { code: CLIENT_CLOSE.normal, reason: "client disconnected" };
    this.#setState("disconnected");
    ws?.close(CLIENT_CLOSE.normal, "client disconnected");
  }

  /**
   * Subscribes to one topic. Messages reach `handler` exactly once and in order while the client
   * lives, across reconnects and transports; one at a time (a returned promise is awaited before the
   * next). One subscription per topic per client.
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
   * interrupted by a disconnect is sent again with the same msgId, so it is stored once. Made while
   * not connected, it waits for the connection.
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
    const frame: PubFrame = { op: "pub", topic, data, id: this.#newId(), msgId: options.msgId ?? newMsgId() };
    const result = this.#publishes.add(frame);
    if (this.#ready) this.#sendPublish(frame);
    return result;
  }

  /** Closes for good: subscriptions end, unacknowledged publishes are rejected. */
  close(): void {
    if (this.#state === "closed") return;
    const ws = this.#ws;
    this.#finish(new HeraldError("closed", "herald: the client was closed"));
    ws?.close(CLIENT_CLOSE.normal, "client closed");
  }

  // ---- connection life cycle ----

  /** From connect() or construction: attempts begin, and `suspended` comes if they go on too long. */
  #startTrying(): void {
    this.#armSuspend();
    void this.#connect();
  }

  #armSuspend(): void {
    clearTimeout(this.#timers.suspend);
    this.#timers.suspend = setTimeout(() => {
      if (this.#state === "connecting" || this.#state === "reconnecting") this.#setState("suspended");
    }, this.#options.suspendAfterMs);
  }

  /** The transport for the next attempt: the preferred one, or the other after failures with it. */
  #nextTransport(): TransportKind {
    const [preferred, fallback] = this.#transports as [TransportKind, TransportKind | undefined];
    if (fallback === undefined || (fallback === "sse" && this.#fetch === undefined)) return preferred;
    if (Date.now() < this.#fallbackUntil) return fallback;
    // Past the threshold, every other attempt tries the fallback: an edge that is down fails both.
    if (this.#preferredFailures >= this.#options.fallbackAfter && this.#transport === preferred)
      return fallback;
    return preferred;
  }

  async #connect(): Promise<void> {
    this.#timers.reconnect = undefined;
    if (this.#state === "closed" || this.#state === "disconnected") return;
    const attempt = ++this.#attempts;
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
    // disconnect() (and perhaps connect() again) while the token was fetched: that attempt is void.
    if (this.#stopped() || attempt !== this.#attempts) return;
    if (this.#refusedToken !== undefined) {
      if (token === this.#refusedToken) {
        // Still the token the edge refused: asking again would only be refused again.
        this.#scheduleReconnect(this.#backoff.next());
        return;
      }
      this.#refusedToken = undefined;
    }
    const transport = this.#nextTransport();
    let ws: WebSocketLike;
    try {
      ws =
        transport === "sse"
          ? new SseSocket(httpUrl(this.#url), token, this.#fetch!)
          : new this.#WebSocket!(websocketUrl(this.#url), SUBPROTOCOL);
    } catch (error) {
      this.#transport = transport;
      if (transport === this.#transports[0]) this.#probeAfterFailure();
      this.#reportError(error);
      this.#scheduleReconnect(this.#backoff.next());
      return;
    }
    this.#ws = ws;
    this.#transport = transport;
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
    // A proxy may accept the upgrade and then pass nothing: no welcome in time is a failed attempt.
    clearTimeout(this.#timers.connect);
    this.#timers.connect = setTimeout(() => {
      if (ws === this.#ws && !this.#welcomed)
        this.#drop(ws, CLIENT_CLOSE.heartbeat, `no welcome within ${this.#options.connectTimeoutMs} ms`);
    }, this.#options.connectTimeoutMs);
  }

  #scheduleReconnect(delayMs: number): void {
    if (this.#state === "closed" || this.#state === "disconnected") return;
    if (this.#state === "open") this.#setState("reconnecting");
    clearTimeout(this.#timers.reconnect);
    this.#timers.reconnect = setTimeout(() => void this.#connect(), delayMs);
  }

  /** The socket is gone (closed by the edge, the network, or us): decide when to come back. */
  #lost(ws: WebSocketLike, code: number, reason: string): void {
    if (ws !== this.#ws) return;
    const wasReady = this.#ready;
    if (!this.#welcomed && this.#transport === this.#transports[0]) this.#probeAfterFailure();
    this.#lastClose = { code, reason };
    this.#stopConnection();
    if (this.#state === "closed" || this.#state === "disconnected") return;

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
   * An attempt with the preferred transport got no welcome. It counts towards the fallback only when
   * the edge is there and ready over plain HTTP (GET /readyz answers 200): then the WebSocket itself
   * is what fails (a proxy refusing upgrades), not the edge (down, restarting, draining), and a fleet
   * of clients does not move to SSE because an edge restarted.
   */
  #probeAfterFailure(): void {
    if (this.#transports.length < 2 || this.#fetch === undefined) return;
    const url = `${httpUrl(this.#url)}/readyz`;
    this.#fetch(url, { cache: "no-store" }).then(
      (response) => {
        if (response.ok) this.#preferredFailures++;
      },
      () => undefined,
    );
  }

  /** Forgets the current connection: its timers, requests and subscriptions' wire state. */
  #stopConnection(): void {
    this.#ws = undefined;
    this.#ready = false;
    this.#authRequest = undefined;
    this.#quietRequests.clear();
    this.#pings.clear();
    for (const timer of ["refresh", "heartbeat", "drain", "connect", "reconnect"] as const) {
      clearTimeout(this.#timers[timer]);
      this.#timers[timer] = undefined;
    }
    for (const subscription of this.#subscriptions.values()) subscription.connectionLost();
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
    this.#lastClose = undefined;
    clearTimeout(this.#timers.suspend);
    if (this.#transport === this.#transports[0]) {
      this.#preferredFailures = 0;
    } else if (this.#preferredFailures >= this.#options.fallbackAfter) {
      // The fallback works where the preferred transport did not: keep to it for a while.
      this.#fallbackUntil = Date.now() + FALLBACK_STICKS_MS;
    }
    this.#setState("open");
    for (const subscription of this.#subscriptions.values()) {
      if (subscription.canSubscribe) this.#send(subscription.subFrame(this.#newId()));
    }
    for (const frame of this.#publishes.unacknowledged()) this.#sendPublish(frame);
    this.#scheduleRefresh();
    for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
  }

  #finish(error: HeraldError): void {
    for (const timer of Object.keys(this.#timers) as TimerName[]) clearTimeout(this.#timers[timer]);
    this.#ws = undefined;
    this.#ready = false;
    this.#lastError = error;
    for (const subscription of [...this.#subscriptions.values()]) subscription.clientClosed();
    this.#subscriptions.clear();
    this.#publishes.rejectAll(error);
    this.#setState("closed");
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(error);
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
        this.#limits = frame.limits;
        clearTimeout(this.#timers.connect);
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
    const delay = this.#tokens.refreshDelay(Date.now());
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
      if (this.#ready && subscription.canSubscribe) this.#send(subscription.subFrame(this.#newId()));
    },
    resubscribeOnWire: (subscription) => {
      if (!this.#ready || !subscription.canSubscribe) return;
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

  /**
   * A publish over the edge's frame limit would close the connection with 4009 on every attempt:
   * it is refused here instead, once the edge has said its limit.
   */
  #sendPublish(frame: PubFrame): void {
    const text = JSON.stringify(frame);
    const max = this.#limits?.maxFrameBytes;
    if (max !== undefined && new TextEncoder().encode(text).length > max) {
      this.#publishes.handleErr({
        op: "err",
        id: frame.id,
        code: "payload_too_large",
        message: `the publish is over the edge's frame limit of ${max} bytes`,
      });
      return;
    }
    this.#sendText(text);
  }

  #send(frame: ClientFrame): void {
    this.#sendText(JSON.stringify(frame));
  }

  #sendText(text: string): void {
    const ws = this.#ws;
    if (ws?.readyState !== OPEN) return; // whatever was not sent is sent again on the next connection
    ws.send(text);
  }

  #newId(): number {
    return this.#nextId++;
  }

  /** A method, not a field read, so TypeScript does not narrow it across an await. */
  #stopped(): boolean {
    return this.#state === "closed" || this.#state === "disconnected";
  }

  #setState(state: ClientState): void {
    if (state === this.#state) return;
    const previous = this.#state;
    this.#state = state;
    const close = this.#lastClose;
    const change: StateChange = {
      state,
      previous,
      ...(close && state !== "open" && state !== "connecting"
        ? { code: close.code, reason: close.reason }
        : {}),
      ...(state === "open" && this.#transport ? { transport: this.#transport } : {}),
      ...(state === "closed" && this.#lastError ? { error: this.#lastError } : {}),
    };
    if (state === "reconnecting" || state === "connecting") this.#armSuspend();
    this.#events.emit("state", state, change);
  }

  #reportError(error: unknown): void {
    this.#events.emit("error", error instanceof Error ? error : new Error(String(error)));
  }
}
