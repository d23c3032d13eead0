// herald.v1 over Server-Sent Events: an HTTP response as a session transport (edge/session/
// transport.ts). The session's frames arrive as the send queue's batches (frames joined by "\n");
// each frame becomes one SSE event whose data is the frame's very text, as on the WebSocket:
//   msg        an unnamed event ("message"), with the stream position as its id
//   subok      `event: subok`, with the stream position as its id
//   reconnect  `event: reconnect`, preceded by `retry: afterMs` so an EventSource waits as asked
//   others     `event: <op>` (welcome, err, ack)
// and the session's close becomes `event: close` {code, reason}, then the end of the response.
// Nothing arrives from the client on this transport: its subscriptions come from the URL, so one
// refused for now (`err` with a code to retry, e.g. unavailable while the edge connects to NATS)
// cannot be asked for again on the stream: the stream ends after it (close 1013, with `retry:`) and
// comes back, as an EventSource does by itself, from its Last-Event-ID.
import type { ServerResponse } from "node:http";
import { ERROR_ADVICE, type ErrorCode } from "../../protocol/codes.js";
import { encodeStreamPosition, SSE_CLOSE_EVENT, type StreamPositionEntry } from "../../protocol/sse.js";
import type { SessionTransport, TransportHandlers } from "../session/transport.js";

const NEWLINE = 0x0a;
const EVENT_END = Buffer.from("\n\n");
const DATA = Buffer.from("data: ");
const HEARTBEAT = ": heartbeat\n\n";
/** Every msg frame starts so (protocol/edge-frames.ts encodeMsgFrame); topics never need escaping. */
const MSG_PREFIX = '{"op":"msg","topic":"';
const MSG_HEAD = /^\{"op":"msg","topic":"([^"\\]+)","seq":(\d+),/;
const OP = /^\{"op":"([a-z]+)"/;
/** The WebSocket close code "try again later" (RFC 6455 registry): a client backs off (CLOSE_ADVICE). */
const TRY_AGAIN_LATER = 1013;
const RETRY_LATER_MS = 1000;

export class SseTransport implements SessionTransport {
  private handlers: TransportHandlers | undefined;
  /** Where each topic of the stream stands: what the next event id says. */
  private readonly positions: (StreamPositionEntry | undefined)[];
  private readonly index = new Map<string, number>();
  private ended = false;

  constructor(
    private readonly response: ServerResponse,
    topics: readonly string[],
    initial: readonly (StreamPositionEntry | undefined)[],
  ) {
    topics.forEach((topic, i) => this.index.set(topic, i));
    this.positions = [...initial];
    response.on("close", () => {
      this.ended = true;
      this.handlers?.closed();
    });
    response.on("error", (error) => this.handlers?.error(error.message));
  }

  get bufferedAmount(): number {
    return this.response.writableLength;
  }

  get readyState(): number {
    return this.ended || this.response.writableEnded || this.response.destroyed ? 3 : 1;
  }

  readonly OPEN = 1;

  attach(handlers: TransportHandlers): boolean {
    this.handlers = handlers;
    return true;
  }

  /** One batch of the send queue: its frames, separated by "\n", each written as one event. */
  send(data: Buffer): void {
    if (this.readyState !== this.OPEN) return;
    const response = this.response;
    response.cork();
    let start = 0;
    let retryLater = false;
    while (start < data.length && !retryLater) {
      let end = data.indexOf(NEWLINE, start);
      if (end < 0) end = data.length;
      if (end > start) retryLater = this.writeEvent(data.subarray(start, end));
      start = end + 1;
    }
    // Ended only once uncorked: an end() among corked writes loses them.
    response.uncork();
    if (retryLater) {
      const afterMs = RETRY_LATER_MS + Math.floor(Math.random() * RETRY_LATER_MS);
      response.write(`retry: ${afterMs}\n\n`);
      this.close(
        TRY_AGAIN_LATER,
        "a subscription of this stream is unavailable for now; reconnect and resume",
      );
    }
  }

  /** Writes one frame as an event; true when the stream must end after it (a refusal to retry later). */
  private writeEvent(frame: Buffer): boolean {
    const head = frame.toString("latin1", 0, Math.min(frame.length, 320));
    let fields = "";
    let retryLater = false;
    if (head.startsWith(MSG_PREFIX)) {
      const match = MSG_HEAD.exec(head);
      const i = match ? this.index.get(match[1]!) : undefined;
      const epoch = i === undefined ? undefined : this.positions[i]?.epoch;
      if (i !== undefined && epoch !== undefined) {
        this.positions[i] = { epoch, seq: Number(match![2]) };
        fields = `id: ${encodeStreamPosition(this.positions)}\n`;
      }
    } else {
      const op = OP.exec(head)?.[1] ?? "message";
      fields = `event: ${op}\n`;
      if (op === "subok") {
        const subok = JSON.parse(frame.toString()) as { topic: string; epoch: string; seq: number };
        const i = this.index.get(subok.topic);
        if (i !== undefined) {
          this.positions[i] = { epoch: subok.epoch, seq: subok.seq };
          fields += `id: ${encodeStreamPosition(this.positions)}\n`;
        }
      } else if (op === "reconnect") {
        const { afterMs } = JSON.parse(frame.toString()) as { afterMs: number };
        fields = `retry: ${afterMs}\n${fields}`;
      } else if (op === "err") {
        const err = JSON.parse(frame.toString()) as { id?: unknown; code: ErrorCode };
        if (err.id !== undefined && ERROR_ADVICE[err.code] === "retry") retryLater = true;
      }
    }
    this.response.write(fields);
    this.response.write(DATA);
    this.response.write(frame);
    this.response.write(EVENT_END);
    return retryLater;
  }

  close(code: number, reason: string): void {
    if (this.readyState !== this.OPEN) return;
    const close = JSON.stringify({ code, reason });
    this.response.end(`event: ${SSE_CLOSE_EVENT}\ndata: ${close}\n\n`);
  }

  terminate(): void {
    this.response.destroy();
  }

  /** A comment every heartbeat keeps proxies from timing the stream out and lets clients see it live. */
  ping(): void {
    if (this.readyState !== this.OPEN) return;
    this.response.write(HEARTBEAT);
    // The peer cannot answer on this transport: a dead one shows as a write error or a full buffer.
    this.handlers?.alive();
  }
}
