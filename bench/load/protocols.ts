// How a subscriber speaks to each server under test, over the same `ws` client library: subscribe
// to one topic, answer the server's keep-alives, and hand every delivered payload (and, for Herald,
// its seq and prev) to the counter. Frames are scanned for the few fields needed, not parsed.
import type WebSocket from "ws";
import { readPayload } from "../lib/payload.js";

export type Kind = "herald" | "ws" | "socketio" | "nats";

export interface Connection {
  readonly ws: WebSocket;
  readonly topic: string;
  /** Undelivered bytes of a protocol that may split a message over frames (NATS). */
  pending: string;
  /** Herald: where to resume after a reconnect (the last position delivered). */
  resumeFrom?: { epoch: string; seq: number };
}

export interface Sink {
  ready(c: Connection, subok?: { seq: number; epoch: string; recovered: boolean }): void;
  deliver(c: Connection, t: number, n: number, seq?: number, prev?: number): void;
  fail(c: Connection, message: string): void;
}

export interface Protocol {
  url(base: string, topic: string): string;
  readonly subprotocols: string[];
  open(c: Connection): void;
  message(c: Connection, text: string, sink: Sink): void;
}

function numberAfter(text: string, key: string, from: number): number {
  const at = text.indexOf(key, from) + key.length;
  return Number(text.slice(at, text.indexOf(",", at)));
}

const herald: Protocol = {
  url: (base) => base,
  subprotocols: ["herald.v1"],
  open: (c) =>
    c.ws.send(JSON.stringify({ op: "sub", topic: c.topic, ...(c.resumeFrom ? { from: c.resumeFrom } : {}) })),
  message(c, text, sink) {
    // Several edge frames may share one WebSocket frame, one per line (a resume's subok is
    // followed by its replay in the same frame): msg lines are scanned, the others parsed.
    for (const line of text.split("\n")) {
      if (line.startsWith('{"op":"msg"')) {
        const body = readPayload(line)!;
        sink.deliver(c, body.t, body.n, numberAfter(line, '"seq":', 0), numberAfter(line, '"prev":', 0));
        continue;
      }
      const frame = JSON.parse(line) as {
        op: string;
        seq: number;
        epoch: string;
        recovered: boolean;
        message?: string;
      };
      if (frame.op === "subok") sink.ready(c, frame);
      else if (frame.op === "err") sink.fail(c, String(frame.message));
    }
  },
};

const plainWs: Protocol = {
  url: (base, topic) => `${base}/?topic=${encodeURIComponent(topic)}`,
  subprotocols: [],
  open: () => {},
  message(c, text, sink) {
    if (text === "ok") return sink.ready(c);
    const body = readPayload(text)!;
    sink.deliver(c, body.t, body.n);
  },
};

// Engine.IO 4 / Socket.IO 5 over a bare WebSocket: "0" open, "40" namespace connect, "2"/"3"
// ping/pong, "42[...]" events.
const socketio: Protocol = {
  url: (base) => `${base}/socket.io/?EIO=4&transport=websocket`,
  subprotocols: [],
  open: () => {},
  message(c, text, sink) {
    if (text.startsWith("42")) {
      if (text.startsWith('42["m"')) {
        const body = readPayload(text)!;
        sink.deliver(c, body.t, body.n);
      } else if (text.startsWith('42["subok"')) sink.ready(c);
    } else if (text === "2") c.ws.send("3");
    else if (text.startsWith("40")) c.ws.send(`42${JSON.stringify(["sub", c.topic])}`);
    else if (text.startsWith("0")) c.ws.send("40");
    else if (text.startsWith("44")) sink.fail(c, text);
  },
};

// The NATS client protocol as nats-server's WebSocket listener speaks it: a stream of text lines
// in which a MSG's payload may be split over WebSocket frames.
const nats: Protocol = {
  url: (base) => base,
  subprotocols: [],
  open: (c) =>
    c.ws.send(`CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nSUB ${c.topic} 1\r\nPING\r\n`),
  message(c, text, sink) {
    const data = c.pending + text;
    let at = 0;
    for (;;) {
      const eol = data.indexOf("\r\n", at);
      if (eol < 0) break;
      if (data.startsWith("MSG ", at)) {
        const size = Number(data.slice(data.lastIndexOf(" ", eol) + 1, eol));
        if (data.length < eol + 2 + size + 2) break;
        const body = readPayload(data, eol + 2)!;
        sink.deliver(c, body.t, body.n);
        at = eol + 2 + size + 2;
        continue;
      }
      const line = data.slice(at, eol);
      if (line === "PING") c.ws.send("PONG\r\n");
      else if (line === "PONG") sink.ready(c);
      else if (line.startsWith("-ERR")) sink.fail(c, line);
      at = eol + 2;
    }
    c.pending = data.slice(at);
  },
};

export const PROTOCOLS: Record<Kind, Protocol> = { herald, ws: plainWs, socketio, nats };
