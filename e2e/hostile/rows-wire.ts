// WebSocket frames no WebSocket library would send, written byte by byte on a raw socket. RFC 6455
// says what the edge must do: 1002 for protocol errors, 1007 for text that is not UTF-8; herald.v1
// answers every frame over its limit with 4009 (in place of RFC 6455's generic 1009), with a reason.
import { FRAME_NOT_READ } from "../harness/expected-errors.js";
import { Opcode, RawWebSocket, encodeFrame } from "./raw-socket.js";
import { rawRow, row, type Row } from "./row.js";

const text = (payload: Buffer | string, extra: { fin?: boolean; opcode?: number } = {}) => ({
  opcode: extra.opcode ?? Opcode.text,
  payload,
  fin: extra.fin,
});
const closeFrame = (code: number, reason: Buffer | string = "") => {
  const payload = Buffer.concat([Buffer.alloc(2), typeof reason === "string" ? Buffer.from(reason) : reason]);
  payload.writeUInt16BE(code, 0);
  return { opcode: Opcode.close, payload };
};
const PROTOCOL_ERROR = { code: 1002, reason: "" };
const NOT_UTF8 = { code: 1007, reason: "" };
/** Beyond twice the limit the edge stops reading the frame, so the reason gives that bound. */
const TOO_BIG = { code: 4009, reason: FRAME_NOT_READ };
/** 40 KiB fragments: four of them pass the 64 KiB limit, four more pass twice the limit. */
const fragment = (fin: boolean, first: boolean) => ({
  opcode: first ? Opcode.text : Opcode.continuation,
  payload: "x".repeat(40 * 1024),
  fin,
});

export const wireRows: Row[] = [
  // Invalid UTF-8 in text: RFC 6455 §8.1 requires failing the connection with 1007.
  rawRow("invalid UTF-8 byte 0xFF in a text frame", [text(Buffer.from([0x7b, 0xff, 0x7d]))], NOT_UTF8),
  rawRow(
    "overlong UTF-8 encoding of '/'",
    [text(Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x7d]))],
    NOT_UTF8,
  ),
  rawRow("UTF-8-encoded surrogate half", [text(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]))], NOT_UTF8),
  rawRow(
    "truncated UTF-8 sequence at the end of a fragmented message",
    [text('{"op":"ping"', { fin: false }), text(Buffer.from([0xe2, 0x82]), { opcode: Opcode.continuation })],
    NOT_UTF8,
  ),
  rawRow("close frame whose reason is not UTF-8", [closeFrame(1000, Buffer.from([0xff, 0xfe]))], NOT_UTF8),

  // Framing violations: 1002.
  rawRow(
    "unmasked client frame",
    [{ opcode: Opcode.text, payload: '{"op":"ping"}', mask: false }],
    PROTOCOL_ERROR,
  ),
  rawRow(
    "RSV1 set without a negotiated extension",
    [{ opcode: Opcode.text, payload: '{"op":"ping"}', rsv: 4 }],
    PROTOCOL_ERROR,
  ),
  rawRow("reserved opcode 0x3", [{ opcode: 0x3, payload: "x" }], PROTOCOL_ERROR),
  rawRow("reserved control opcode 0xB", [{ opcode: 0xb, payload: "x" }], PROTOCOL_ERROR),
  rawRow(
    "ping with a 126-byte payload (control frames are at most 125)",
    [{ opcode: Opcode.ping, payload: "p".repeat(126) }],
    PROTOCOL_ERROR,
  ),
  rawRow("fragmented ping", [{ opcode: Opcode.ping, payload: "p", fin: false }], PROTOCOL_ERROR),
  rawRow(
    "continuation frame with nothing to continue",
    [{ opcode: Opcode.continuation, payload: "x" }],
    PROTOCOL_ERROR,
  ),
  rawRow(
    "new text frame inside a fragmented message",
    [text('{"op":', { fin: false }), text('{"op":"ping"}')],
    PROTOCOL_ERROR,
  ),
  rawRow("close frame with the reserved code 1005", [closeFrame(1005)], PROTOCOL_ERROR),
  rawRow("close frame with code 999", [closeFrame(999)], PROTOCOL_ERROR),
  rawRow(
    "close frame with a 1-byte payload",
    [{ opcode: Opcode.close, payload: Buffer.from([0x03]) }],
    PROTOCOL_ERROR,
  ),

  // Size: a length header claiming 2^53 bytes, and fragmented messages that grow without end.
  rawRow("text frame of three times the limit", [text("x".repeat(3 * 65536))], TOO_BIG),
  rawRow(
    "length header claiming 2^53 bytes",
    [{ opcode: Opcode.text, payload: "x", declaredLength: 2 ** 53 }],
    TOO_BIG,
  ),
  rawRow(
    "length header claiming 1 TiB",
    [{ opcode: Opcode.text, payload: "x", declaredLength: 2 ** 40 }],
    TOO_BIG,
  ),
  rawRow(
    "fragmented message that never ends (cut beyond twice the frame limit)",
    Array.from({ length: 8 }, (_, i) => fragment(false, i === 0)),
    TOO_BIG,
  ),
  rawRow(
    "fragmented message of 120 KiB, then FIN (over the limit, under twice it)",
    [fragment(false, true), fragment(false, false), fragment(true, false)],
    { code: 4009, reason: `frame of ${3 * 40 * 1024} bytes is over the limit of 65536 bytes` },
  ),
  row(
    "fragment started, then silence (no FIN, no pong): dropped by the heartbeat",
    "no close frame",
    async (ctx) => {
      const ws = await RawWebSocket.open(ctx.scope, ctx.edge.port, ctx.token);
      ws.send(text('{"op":"ping","id":1', { fin: false }));
      return ws.waitForClose();
    },
  ),

  // Ping and pong floods: every frame counts against the frame rate (50/s, burst 100) before ws
  // parses it, control frames included, so a burst is refused at its 101st frame with 4009 and ws
  // never answers any of it; a flood paced to stay under ws's own bound on pending pongs, likewise.
  rawRow(
    "ping flood: 150 WebSocket pings at once",
    Array.from({ length: 150 }, () => ({ opcode: Opcode.ping, payload: "p".repeat(125) })),
    { code: 4009, reason: "more than 50 frames per second" },
  ),
  row(
    "pong flood: 300 unsolicited pongs count against the frame rate too",
    { code: 4009, reason: "more than 50 frames per second" },
    async (ctx) => {
      const ws = await RawWebSocket.open(ctx.scope, ctx.edge.port, ctx.token);
      const pongs = Array.from({ length: 300 }, () => encodeFrame({ opcode: Opcode.pong, payload: "p" }));
      // A request after them: answered only if the pongs went uncounted.
      const probe = encodeFrame({ opcode: Opcode.text, payload: '{"op":"ping","id":"after-pongs"}' });
      ws.connection.write(Buffer.concat([...pongs, probe]));
      return ws.connection.until(() => {
        if (ws.frames().some((f) => f.opcode === Opcode.text && f.payload.includes("after-pongs")))
          return "answered: the pongs were not counted";
        return ws.frames().some((f) => f.opcode === Opcode.close) ? ws.waitForClose() : undefined;
      }, "a close frame or the probe's answer");
    },
  ),
  row(
    "frames after the edge closed a connection are not read, and the edge ends it without waiting for the client's close",
    {
      close: { code: 4400, reason: "binary frames are not accepted; send JSON text frames" },
      answersAfterClose: 0,
      endedByEdge: true,
    },
    async (ctx) => {
      const ws = await RawWebSocket.open(ctx.scope, ctx.edge.port, ctx.token);
      ws.send({ opcode: Opcode.binary, payload: '{"op":"ping","id":1}' });
      const close = await ws.waitForClose();
      const framesAtClose = ws.frames().length;
      // Pings and requests after the close: none may be parsed or answered. The client never sends
      // a close frame of its own: the edge ends the TCP connection anyway, within seconds, not ws's 30.
      ws.connection.write(
        Buffer.concat(
          Array.from({ length: 50 }, (_, i) =>
            encodeFrame(
              i % 2 === 0
                ? { opcode: Opcode.ping, payload: "p" }
                : { opcode: Opcode.text, payload: `{"op":"ping","id":${i}}` },
            ),
          ),
        ),
      );
      await ws.connection.waitForEnd(5_000);
      return { close, answersAfterClose: ws.frames().length - framesAtClose, endedByEdge: true };
    },
  ),
  row(
    "paced ping flood: 10 pings at a time, each batch's pongs awaited",
    { code: 4009, reason: "more than 50 frames per second" },
    async (ctx) => {
      const ws = await RawWebSocket.open(ctx.scope, ctx.edge.port, ctx.token);
      const batch = Buffer.concat(
        Array.from({ length: 10 }, () => encodeFrame({ opcode: Opcode.ping, payload: "p" })),
      );
      const pongs = () => ws.frames().filter((f) => f.opcode === Opcode.pong).length;
      for (
        let sent = 10;
        sent <= 2000 && !ws.connection.ended && !ws.frames().some((f) => f.opcode === Opcode.close);
        sent += 10
      ) {
        ws.connection.write(batch);
        await ws.connection.until(
          () =>
            pongs() >= sent || ws.frames().some((f) => f.opcode === Opcode.close) || ws.connection.ended
              ? true
              : undefined,
          `${sent} pongs`,
        );
      }
      const closed = ws.frames().some((f) => f.opcode === Opcode.close) || ws.connection.ended;
      return closed ? ws.waitForClose() : `still open after 2000 pings (${pongs()} pongs)`;
    },
  ),
];
