// One WebSocket connection speaking herald.v1: its grants, its subscriptions, its limits and the
// dispatch of client frames (docs/protocol.md). The bounded send path lives in
// send-queue.ts; the hub does replay and live delivery, the publisher durable writes.
import { randomUUID } from "node:crypto";
import type { RawData } from "ws";
import {
  CloseCode,
  encodeEdgeFrame,
  matchesAny,
  type AuthFrame,
  type ClientFrame,
  type EdgeFrame,
  type ErrorCode,
  type Limits,
  type PubFrame,
  type RequestId,
  type SubFrame,
  type UnsubFrame,
} from "../../protocol/index.js";
import { parseClientFrame } from "../../protocol/parse-client-frame.js";
import type { Authenticator, Grants, UpgradeAuth } from "../auth/grants.js";
import type { EdgeConfig } from "../../shared/config.js";
import type { Hub } from "../hub/hub.js";
import { ReadBudget } from "../hub/read-budget.js";
import type { Logger } from "../common/log.js";
import type { EdgeMetrics } from "../common/metrics.js";
import { stringBytes, type MemoryBudget } from "../common/memory-budget.js";
import type { PublishRequests } from "../requests/publish-requests.js";
import { toRequestError } from "../requests/request-error.js";
import { DebtBucket } from "../requests/rate-limits.js";
import { oversizedReason } from "./oversized-frames.js";
import { SendQueue, type FlushScheduler } from "./send-queue.js";
import { SessionSubscriptions, type SubscriptionConnection } from "./subscriptions.js";
import type { SessionTransport, TransportHandlers } from "./transport.js";

/** What every session of one edge shares. */
export interface SessionContext {
  readonly config: EdgeConfig;
  readonly hub: Hub;
  readonly authenticator: Authenticator;
  readonly publisher: PublishRequests;
  readonly metrics: EdgeMetrics;
  readonly log: Logger;
  readonly scheduler: FlushScheduler;
  readonly limits: Limits;
  /** The edge's memory budget: frames held before auth count against it. Absent: unbounded. */
  readonly budget?: MemoryBudget;
}

/** A connection's read budget (edge/hub/read-budget.ts), in send buffers per second. */
const READS_PER_SECOND = 16;
/**
 * Frames that may arrive while the first auth frame is being verified; more is abuse. Their bytes
 * are bounded too: HERALD_MAX_FRAME_BYTES in all (one frame's worth), and the edge's memory budget.
 */
const MAX_HELD_FRAMES = 64;
/** setTimeout cannot wait longer than this; longer expiries re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Closes logged at info: authentication and entitlement refusals, slow consumers, limits. */
const INFO_CLOSES: ReadonlySet<number> = new Set([
  CloseCode.Unauthenticated,
  CloseCode.Forbidden,
  CloseCode.SlowConsumer,
  CloseCode.LimitExceeded,
]);
/** WebSocket close reasons are limited to 123 bytes. */
const MAX_REASON_BYTES = 123;

/**
 * The session is itself what its transport reports to (TransportHandlers) and what its subscriptions
 * send over (SubscriptionConnection): methods on one object instead of a dozen closures per
 * connection, which an edge holds by the hundred thousand.
 */
export class Session implements TransportHandlers, SubscriptionConnection {
  readonly id = randomUUID();
  /** Cleared by the heartbeat before each ping, set by any sign of life. */
  responsive = true;
  /** Made on first use: most connections never replay, and most subscribers never publish. */
  private readBudget: ReadBudget | undefined;
  private publishBucket: DebtBucket | undefined;
  private grants: Grants | null = null;
  private grantedBy: "token" | "anonymous" | null = null;
  /** Frames received while the first auth frame is verified; dispatched in order afterwards. */
  private held: string[] | null = null;
  /** Their UTF-8 bytes, and the memory they take as held (counted against the budget). */
  private heldBytes = 0;
  private heldMemory = 0;
  private readonly subscriptions: SessionSubscriptions;
  private readonly queue: SendQueue;
  private readonly frameBucket: DebtBucket;
  private authTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private ended = false;
  /** Every line about this connection carries its session id (the one its welcome frame gave). */
  private readonly log: Logger;

  constructor(
    private readonly transport: SessionTransport,
    private readonly ctx: SessionContext,
    upgradeAuth: UpgradeAuth,
    private readonly onEnd: (session: Session) => void,
  ) {
    const { config } = ctx;
    this.log = ctx.log.child({ session: this.id });
    this.queue = new SendQueue(transport, config.sendBufferBytes, ctx.scheduler);
    this.subscriptions = new SessionSubscriptions(ctx.hub, this);
    this.frameBucket = new DebtBucket(config.framesPerSecond, 2 * config.framesPerSecond);

    const guarded = transport.attach(this);
    if (!guarded)
      this.log.log("warn", "oversized_frame_guard_missing", {
        detail: "this ws version closes such frames with 1009",
      });

    this.sendFrame({ op: "welcome", session: this.id, heartbeatMs: config.heartbeatMs, limits: ctx.limits });
    if (upgradeAuth.kind === "refused") {
      this.close(CloseCode.Unauthenticated, upgradeAuth.message);
      return;
    }
    if (upgradeAuth.kind === "token") {
      this.applyGrants(upgradeAuth.grants, "token");
      return;
    }
    const anonymous = ctx.authenticator.anonymous();
    if (anonymous) {
      this.applyGrants(anonymous, "anonymous");
      return;
    }
    this.authTimer = setTimeout(() => {
      if (this.grants === null)
        this.close(
          CloseCode.Unauthenticated,
          `no auth frame within ${config.authTimeoutMs} ms; accepted: ${ctx.authenticator.accepts.ws}`,
        );
    }, config.authTimeoutMs);
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Queues an encoded edge frame; a client over its send buffer is closed with 4008. */
  enqueue(frame: string): void {
    if (this.ended) return;
    if (!this.queue.push(frame)) {
      this.close(
        CloseCode.SlowConsumer,
        `send buffer of ${this.ctx.config.sendBufferBytes} bytes exceeded; reconnect and resume`,
      );
    }
  }

  /** Sends what is pending, then closes with `code`. */
  close(code: CloseCode, reason: string): void {
    if (this.ended) return;
    this.queue.flush();
    this.ctx.metrics.closes.inc({ code: String(code) });
    // Refusals and slow consumers at info: an operator looks for them; drains and the rest at debug.
    this.log.log(INFO_CLOSES.has(code) ? "info" : "debug", "session_close", { code, reason });
    this.transport.close(code, truncateReason(reason));
    this.end();
  }

  /** Drops the connection without a close handshake (a peer that stopped answering pings). */
  terminate(): void {
    if (this.ended) return;
    this.ctx.metrics.closes.inc({ code: "1006" });
    this.transport.terminate();
    this.end();
  }

  ping(): void {
    if (!this.ended) this.transport.ping();
  }

  // ---- what the transport reports (TransportHandlers) ----

  /**
   * Every frame counts, before it is parsed: data frames and their fragments, pings (ws answers each
   * with a pong outside the send queue), pongs and close frames. Over the rate: 4009, and the
   * transport reads nothing more.
   */
  input(): boolean {
    if (this.ended) return false;
    this.responsive = true;
    return this.withinFrameRate();
  }

  alive(): void {
    this.responsive = true;
  }

  closed(): void {
    this.end();
  }

  error(message: string): void {
    this.log.log("debug", "ws_error", { error: message });
  }

  oversized(): void {
    const { maxFrameBytes } = this.ctx.config;
    this.refuseFrame("payload_too_large", CloseCode.LimitExceeded, oversizedReason(maxFrameBytes));
  }

  frame(data: RawData, isBinary: boolean): void {
    if (this.ended) return;
    this.responsive = true;
    const { config } = this.ctx;
    if (isBinary) {
      this.refuseFrame(
        "invalid_frame",
        CloseCode.Malformed,
        "binary frames are not accepted; send JSON text frames",
      );
      return;
    }
    const bytes = rawLength(data);
    if (bytes > config.maxFrameBytes) {
      this.refuseFrame(
        "payload_too_large",
        CloseCode.LimitExceeded,
        `frame of ${bytes} bytes is over the limit of ${config.maxFrameBytes} bytes`,
      );
      return;
    }
    if (this.held) {
      this.hold(data, bytes);
      return;
    }
    this.dispatch(rawText(data));
  }

  // ---- what the subscriptions send over (SubscriptionConnection) ----

  /** What this connection may make the edge read from the log: 16 send buffers a second. */
  get reads(): ReadBudget {
    const { sendBufferBytes } = this.ctx.config;
    return (this.readBudget ??= new ReadBudget(
      READS_PER_SECOND * sendBufferBytes,
      2 * READS_PER_SECOND * sendBufferBytes,
    ));
  }

  room(): number {
    return this.queue.room();
  }

  idle(): boolean {
    return this.queue.idle();
  }

  drained(bytes: number): Promise<void> {
    return this.queue.drained(bytes);
  }

  slowReplay(): void {
    this.close(
      CloseCode.SlowConsumer,
      "a replay cannot catch up with its topic: read faster, then reconnect and resume",
    );
  }

  /**
   * A client frame from a codec whose transport carries none (SSE: the subscriptions its URL asks
   * for), dispatched as a frame received on the connection would be.
   */
  receive(text: string): void {
    if (!this.ended) this.dispatch(text);
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    this.releaseHeld();
    this.queue.discard();
    this.subscriptions.closeAll();
    this.onEnd(this);
  }

  private sendFrame(frame: EdgeFrame): void {
    this.enqueue(encodeEdgeFrame(frame));
  }

  private sendError(id: RequestId | undefined, code: ErrorCode, message: string): void {
    this.ctx.metrics.rejectedFrames.inc({ code });
    this.sendFrame(id === undefined ? { op: "err", code, message } : { op: "err", id, code, message });
  }

  /** A frame that ends the connection: counted like refused frames, then the close. */
  private refuseFrame(code: ErrorCode, closeCode: CloseCode, reason: string): void {
    this.ctx.metrics.rejectedFrames.inc({ code });
    this.close(closeCode, reason);
  }

  /** Takes one frame from the frames-per-second bucket; when it is empty, closes with 4009. */
  private withinFrameRate(): boolean {
    if (this.frameBucket.take(1) === 0) return true;
    this.refuseFrame(
      "rate_limited",
      CloseCode.LimitExceeded,
      `more than ${this.ctx.config.framesPerSecond} frames per second`,
    );
    return false;
  }

  private ack(id: RequestId | undefined, extra: { seq?: number; dup?: boolean } = {}): void {
    // An ack needs an id to be matched to its request; a request without one expects no reply.
    if (id !== undefined) this.sendFrame({ op: "ack", id, ...extra });
  }

  private dispatch(text: string): void {
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      if (parsed.fatal) {
        this.refuseFrame(parsed.code, CloseCode.Malformed, parsed.message);
      } else {
        this.sendError(parsed.id, parsed.code, parsed.message);
      }
      return;
    }
    const frame: ClientFrame = parsed.frame;
    if (this.grants === null && frame.op !== "auth") {
      this.close(
        CloseCode.Unauthenticated,
        `authenticate first: the first frame must be an auth frame; accepted: ${this.ctx.authenticator.accepts.ws}`,
      );
      return;
    }
    switch (frame.op) {
      case "auth":
        void this.onAuth(frame);
        return;
      case "sub":
        void this.onSub(frame);
        return;
      case "unsub":
        this.onUnsub(frame);
        return;
      case "pub":
        void this.onPub(frame);
        return;
      case "ping":
        this.ack(frame.id);
        return;
    }
  }

  private async onAuth(frame: AuthFrame): Promise<void> {
    const first = this.grants === null;
    if (first) this.held = [];
    let grants: Grants;
    try {
      grants = await this.ctx.authenticator.verifyToken(frame.token);
    } catch (error) {
      if (this.ended) return;
      const refused = toRequestError(error);
      if (first) this.close(CloseCode.Unauthenticated, refused.message);
      else this.sendError(frame.id, refused.code, refused.message);
      return;
    }
    if (this.ended) return;
    if (this.grantedBy === "token" && grants.subject !== this.grants?.subject) {
      this.close(
        CloseCode.Forbidden,
        "a refreshed token must be for the same subject as the connection's token",
      );
      return;
    }
    this.applyGrants(grants, "token");
    this.ack(frame.id);
    if (first) {
      const held = this.held ?? [];
      this.held = null;
      this.releaseHeld();
      for (const text of held) {
        if (this.ended) return;
        this.dispatch(text);
      }
    }
  }

  /**
   * Keeps a frame that arrived while the first auth frame is verified: at most 64 of them, in all at
   * most one frame's worth of bytes, within the edge's memory budget; beyond any of these, 4009.
   */
  private hold(data: RawData, bytes: number): void {
    const { config, budget } = this.ctx;
    const refuse = (reason: string) => this.refuseFrame("limit_exceeded", CloseCode.LimitExceeded, reason);
    if (this.held!.length >= MAX_HELD_FRAMES)
      return refuse(`more than ${MAX_HELD_FRAMES} frames sent before the auth frame was answered`);
    if (this.heldBytes + bytes > config.maxFrameBytes)
      return refuse(`more than ${config.maxFrameBytes} bytes sent before the auth frame was answered`);
    const text = rawText(data);
    const memory = stringBytes(text.length, bytes);
    if (budget && !budget.tryTake("held", memory))
      return refuse("frames sent before the auth frame was answered are over this edge's memory budget");
    this.heldMemory += memory;
    this.heldBytes += bytes;
    this.held!.push(text);
  }

  private releaseHeld(): void {
    this.ctx.budget?.give("held", this.heldMemory);
    this.heldMemory = 0;
    this.heldBytes = 0;
  }

  /** Takes new grants: arms the expiry timer and ends subscriptions they no longer allow. */
  private applyGrants(grants: Grants, by: "token" | "anonymous"): void {
    this.grants = grants;
    this.grantedBy = by;
    clearTimeout(this.authTimer);
    this.armExpiry(grants.expiresAt);
    for (const { topic, id } of this.subscriptions.retainAllowed((topic) =>
      matchesAny(grants.subscribe, topic),
    )) {
      this.sendError(
        id,
        "forbidden",
        `subscription to "${topic}" ended: the refreshed token does not allow it`,
      );
    }
  }

  private armExpiry(expiresAt: number | null): void {
    clearTimeout(this.expiryTimer);
    if (expiresAt === null) return;
    const delay = expiresAt - Date.now();
    if (delay <= 0) {
      this.close(CloseCode.Unauthenticated, "token expired");
      return;
    }
    this.expiryTimer = setTimeout(() => this.armExpiry(expiresAt), Math.min(delay, MAX_TIMER_MS));
  }

  private async onSub(frame: SubFrame): Promise<void> {
    const { topic, id } = frame;
    if (!matchesAny(this.grants!.subscribe, topic)) {
      this.sendError(id, "forbidden", `not allowed to subscribe to "${topic}"`);
      return;
    }
    if (this.subscriptions.has(topic)) {
      this.sendError(id, "already_subscribed", `already subscribed to "${topic}"`);
      return;
    }
    const max = this.ctx.config.maxSubscriptions;
    if (this.subscriptions.size >= max) {
      this.close(CloseCode.LimitExceeded, `more than ${max} subscriptions on one connection`);
      return;
    }
    try {
      await this.subscriptions.open(topic, frame.from, id);
    } catch (error) {
      const refused = toRequestError(error);
      if (refused.code === "internal")
        this.log.log("error", "subscribe_failed", { topic, error: String(error) });
      this.sendError(id, refused.code, refused.message);
    }
  }

  private onUnsub(frame: UnsubFrame): void {
    if (!this.subscriptions.close(frame.topic)) {
      this.sendError(frame.id, "not_subscribed", `not subscribed to "${frame.topic}"`);
      return;
    }
    this.ack(frame.id);
  }

  private async onPub(frame: PubFrame): Promise<void> {
    const { publisher } = this.ctx;
    try {
      publisher.checkAllowed(this.grants!, frame.topic);
      const { publishesPerSecond } = this.ctx.config;
      this.publishBucket ??= new DebtBucket(publishesPerSecond, 2 * publishesPerSecond);
      if (this.publishBucket.take(1) > 0) {
        this.sendError(
          frame.id,
          "rate_limited",
          `more than ${this.ctx.config.publishesPerSecond} publishes per second; slow down`,
        );
        return;
      }
      const outcome = await publisher.store(publisher.encode(frame), "ws");
      this.ack(frame.id, { seq: outcome.seq, dup: outcome.dup });
    } catch (error) {
      const refused = toRequestError(error);
      if (refused.code === "internal")
        this.log.log("error", "publish_failed", {
          topic: frame.topic,
          error: String(error),
        });
      this.sendError(frame.id, refused.code, refused.message);
    }
  }
}

function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}

function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_REASON_BYTES) return reason;
  let cut = reason.slice(0, MAX_REASON_BYTES);
  while (Buffer.byteLength(cut) > MAX_REASON_BYTES - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}
