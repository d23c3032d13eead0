// What a session needs from the connection it speaks over: the narrow interface between the one
// session core (session.ts: grants, subscriptions, limits, the bounded send queue) and each codec in
// front of it — the WebSocket (ws-transport.ts, herald.v1 at /v1/ws) and Server-Sent Events
// (edge/sse/, GET /v1/sse). A transport carries encoded edge frames out (as the send queue's batches)
// and, when it has any, client frames in; closing and liveness are the transport's own business.
import type { RawData } from "ws";
import type { SendTarget } from "./send-queue.js";

/** What the session does with what arrives on the transport. */
export interface TransportHandlers {
  /** A client frame (WebSocket message). */
  frame(data: RawData, isBinary: boolean): void;
  /**
   * A unit of input arrived, before it is parsed (for the WebSocket: every frame, control frames
   * and continuation fragments included): it counts against the frame rate and is a sign of life.
   * False when the session refuses it; the transport then discards it and all input after it.
   */
  input(): boolean;
  /** A sign of life from the peer (a pong). */
  alive(): void;
  /** A frame too large to be read at all: the session closes with 4009. */
  oversized(): void;
  /** The connection is gone. */
  closed(): void;
  /** A transport-level error (the transport closes by itself); for the log. */
  error(message: string): void;
}

export interface SessionTransport extends SendTarget {
  /** Starts delivering to `handlers`; false when the transport cannot refuse oversized frames itself. */
  attach(handlers: TransportHandlers): boolean;
  /** Closes with a herald.v1 close code and a reason (at most 123 bytes). */
  close(code: number, reason: string): void;
  /** Drops the connection at once (a peer that stopped answering). */
  terminate(): void;
  /** Asks the peer for a sign of life (or, where it cannot answer, keeps the connection warm). */
  ping(): void;
}
