// herald.v1 over WebSocket: a ws connection as a session transport (transport.ts).
import type { WebSocket } from "ws";
import { onOversizedFrame } from "./oversized-frames.js";
import type { SessionTransport, TransportHandlers } from "./transport.js";

export class WsTransport implements SessionTransport {
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
    const { ws } = this;
    ws.on("message", (data, isBinary) => handlers.frame(data, isBinary));
    ws.on("pong", () => handlers.alive());
    ws.on("ping", () => handlers.ping());
    ws.on("close", () => handlers.closed());
    // ws closes the socket itself on protocol errors (bad UTF-8, bad framing); just log.
    ws.on("error", (error) => handlers.error(error.message));
    // Frames beyond what ws reads at all: 4009 with a reason, as for any frame over the limit.
    return onOversizedFrame(ws, () => handlers.oversized());
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  ping(): void {
    this.ws.ping();
  }
}
