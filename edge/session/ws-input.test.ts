// Frames are counted before ws parses them: the header scanner finds every frame whatever the
// chunking, and on a real ws connection it sees fragments, pings and pongs (which ws reports
// differently or not at all), and stops the input at the first refused frame.
import { once } from "node:events";
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import test from "ava";
import WebSocket, { WebSocketServer } from "ws";
import { listenOnLoopback } from "../../e2e/harness/free-port.js";
import { sleep, waitFor } from "../../e2e/harness/wait.js";
import { FrameHeaderScanner, meterFrames } from "./ws-input.js";

/** A client frame as RFC 6455 §5.2 lays it out (masked unless told otherwise). */
function frame(opcode: number, payload: Buffer, { fin = true, mask = true } = {}): Buffer {
  const length = payload.length;
  const head =
    length < 126
      ? Buffer.from([0, length])
      : length < 65536
        ? Buffer.from([0, 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0, 127]), Buffer.alloc(8)]);
  if (length >= 65536) head.writeBigUInt64BE(BigInt(length), 2);
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (!mask) return Buffer.concat([head, payload]);
  head[1]! |= 0x80;
  const key = randomBytes(4);
  return Buffer.concat([head, key, Buffer.from(payload.map((b, i) => b ^ key[i % 4]!))]);
}

const stream = Buffer.concat([
  frame(0x1, Buffer.from('{"op":"ping"}')),
  frame(0x9, Buffer.alloc(0)),
  frame(0x1, Buffer.alloc(300, 0x20), { fin: false }),
  frame(0x0, Buffer.alloc(0), { fin: false }),
  frame(0x0, Buffer.alloc(70_000, 0x20)),
  frame(0xa, Buffer.from("p"), { mask: false }),
  frame(0x8, Buffer.from([0x03, 0xe8])),
]);
const OPCODES = [0x1, 0x9, 0x1, 0x0, 0x0, 0xa, 0x8];

test("the scanner finds every frame, short, 16-bit and 64-bit lengths, masked or not, however the bytes are split", (t) => {
  for (const size of [1, 2, 3, 7, 13, 64, 1000, stream.length]) {
    const scanner = new FrameHeaderScanner();
    const seen: number[] = [];
    for (let i = 0; i < stream.length; i += size)
      t.true(scanner.scan(stream.subarray(i, i + size), (opcode) => seen.push(opcode) > 0));
    t.deepEqual(seen, OPCODES, `chunks of ${size}`);
  }
});

test("the scanner stops at the first refused frame", (t) => {
  const scanner = new FrameHeaderScanner();
  let seen = 0;
  t.false(scanner.scan(stream, () => ++seen < 3));
  t.is(seen, 3);
});

test("on a real ws connection every frame is counted, and after a refusal nothing reaches ws", async (t) => {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  t.teardown(() => {
    wss.close();
    server.close();
  });
  const port = await listenOnLoopback(server);
  const counted: number[] = [];
  let allowed = Number.POSITIVE_INFINITY;
  const messages: string[] = [];
  const pings: number[] = [];
  wss.on("connection", (ws) => {
    t.truthy(
      meterFrames(ws, { input: () => counted.push(1) <= allowed }),
      "ws still has the receiver the meter sits in front of",
    );
    ws.on("message", (data) => messages.push(data.toString()));
    ws.on("ping", () => pings.push(1));
  });
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  t.teardown(() => client.terminate());
  await once(client, "open");
  client.send("a");
  client.ping();
  client.pong();
  // One message in three fragments.
  client.send("b", { fin: false });
  client.send("c", { fin: false });
  client.send("d", { fin: true });
  await waitFor("one message of fragments", () => messages.length === 2);
  t.deepEqual(messages, ["a", "bcd"]);
  t.is(counted.length, 6, "1 + ping + pong + 3 fragments");
  allowed = counted.length;
  client.send("refused");
  client.send("after");
  await waitFor("the refused frame counted", () => counted.length === allowed + 1);
  client.ping();
  client.send("later");
  await sleep(100);
  t.deepEqual(messages, ["a", "bcd"], "nothing parsed after the refusal");
  t.is(pings.length, 1);
});
