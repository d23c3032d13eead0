// herald.v1 over WebSocket: a ws connection as a session transport (transport.ts). Every frame
// the client sends is counted before ws parses it (ws-input.ts); once the edge closes the
// connection, nothing more the client sends is parsed, and the socket is ended right after the
// close frame and destroyed shortly after what was queued for it has gone out, instead of ws's 30 s
// wait for the client's own close frame.
import type { Socket } from "node:net";
import type { RawData, WebSocket } from "ws";
import { onOversizedFrame } from "./oversized-frames.js";
import type { SessionTransport, TransportHandlers } from "./transport.js";
import { meterFrames, type FrameMeter } from "./ws-input.js";

/** After the close frame and everything before it are written, the peer has this long to close. */
const CLOSE_LINGER_MS = 1000;

/**
 * The listeners are the same four functions for every connection, finding their transport on the
 * WebSocket (ws calls a listener with the WebSocket as `this`): no closures per connection.
 */
const TRANSPORT = Symbol("herald.transport");
type Carrier = WebSocket & { [TRANSPORT]: WsTransport };
const transportOf = (ws: WebSocket): WsTransport => (ws as Carrier)[TRANSPORT];

function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  transportOf(this).message(data, isBinary);
}

function onPong(this: WebSocket): void {
  transportOf(this).handlers!.alive();
}

function onClose(this: WebSocket): void {
  transportOf(this).handlers!.closed();
}

function onError(this: WebSocket, error: Error): void {
  const transport = transportOf(this);
  transport.handlers!.error(error.message);
  transport.finish();
}

function onControlFrame(this: WebSocket): void {
  transportOf(this).handlers!.input();
}

export class WsTransport implements SessionTransport {
  handlers: TransportHandlers | undefined;
  private meter: FrameMeter | undefined;
  private finishing = false;

  constructor(private readonly ws: WebSocket) {}

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  get OPEN(): number {
    return this.ws.OPEN;
  }

  send(data: Buffer, options: { binary: false }): void {
    this.ws.send(data, options);
  }

  attach(handlers: TransportHandlers): boolean {
    const ws = this.ws as Carrier;
    this.handlers = handlers;
    ws[TRANSPORT] = this;
    this.meter = meterFrames(ws, handlers);
    if (this.meter === undefined) {
      // A ws without the receiver this counts at: count what it reports (fragments go uncounted).
      ws.on("ping", onControlFrame);
      ws.on("pong", onControlFrame);
    }
    ws.on("message", onMessage);
    ws.on("pong", onPong);
    ws.on("close", onClose);
    // ws closes the socket itself on protocol errors (bad UTF-8, bad framing): log, and let go of
    // the socket as after any other close.
    ws.on("error", onError);
    // Frames beyond what ws reads at all: 4009 with a reason, as for any frame over the limit.
    return onOversizedFrame(ws, handlers);
  }

  /** A data frame: with the meter in front, it was counted already. */
  message(data: RawData, isBinary: boolean): void {
    const handlers = this.handlers!;
    if (this.meter !== undefined || handlers.input()) handlers.frame(data, isBinary);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
    this.finish();
  }

  terminate(): void {
    this.ws.terminate();
  }

  ping(): void {
    this.ws.ping();
  }

  /** Discards all further input, ends the socket after the close frame, destroys it soon after. */
  finish(): void {
    if (this.finishing) return;
    this.finishing = true;
    this.meter?.discard();
    const socket = (this.ws as WebSocket & { _socket?: Socket })._socket;
    if (socket === undefined || socket.destroyed) return;
    // Keep reading (and discarding) what still arrives, so that the socket can close cleanly.
    socket.resume();
    socket.end();
    // A client that does not read keeps what is queued for it until ws's own close timeout.
    socket.once("finish", () => setTimeout(() => socket.destroy(), CLOSE_LINGER_MS).unref());
  }
}
