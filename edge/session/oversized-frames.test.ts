// Frames beyond what ws reads at all (over twice HERALD_MAX_FRAME_BYTES) close with 4009 and a reason,
// not ws's own 1009 with none. This relies on ws's private `_receiver` (see oversized-frames.ts): if
// an upgrade of ws breaks that, these tests fail.
import test from "ava";
import { WebSocket } from "ws";
import { startTestEdge } from "../../e2e/harness/test-edge.js";

const LIMIT = 4096;
const REASON = `frame of more than ${2 * LIMIT} bytes is over the limit of ${LIMIT} bytes`;

/** An anonymous herald.v1 connection, open and welcomed. */
async function connect(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, "herald.v1");
  await new Promise<void>((resolve, reject) => {
    ws.once("message", () => resolve());
    ws.once("error", reject);
  });
  return ws;
}

const closeOf = (ws: WebSocket) =>
  new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );

test("a text frame of three times the limit is closed with 4009 and a reason", async (t) => {
  const edge = await startTestEdge(t, { HERALD_MAX_FRAME_BYTES: String(LIMIT) });
  const ws = await connect(edge.wsUrl);
  t.teardown(() => ws.terminate());
  const closed = closeOf(ws);
  ws.send(JSON.stringify({ op: "pub", topic: "a.b", id: 1, data: "x".repeat(3 * LIMIT) }));
  t.deepEqual(await closed, { code: 4009, reason: REASON });
});

test("a message fragmented past twice the limit is closed with 4009 and a reason", async (t) => {
  const edge = await startTestEdge(t, { HERALD_MAX_FRAME_BYTES: String(LIMIT) });
  const ws = await connect(edge.wsUrl);
  t.teardown(() => ws.terminate());
  const closed = closeOf(ws);
  // Each fragment is under the limit; together they pass twice it.
  for (let i = 0; i < 3; i++) ws.send("x".repeat(LIMIT), { fin: false });
  ws.send("x", { fin: true });
  t.deepEqual(await closed, { code: 4009, reason: REASON });
});

test("after such a close the edge serves other connections", async (t) => {
  const edge = await startTestEdge(t, { HERALD_MAX_FRAME_BYTES: String(LIMIT) });
  const big = await connect(edge.wsUrl);
  t.teardown(() => big.terminate());
  const closed = closeOf(big);
  big.send("x".repeat(3 * LIMIT));
  t.is((await closed).code, 4009);
  const next = await connect(edge.wsUrl);
  t.teardown(() => next.terminate());
  const reply = new Promise<string>((resolve) => next.once("message", (data) => resolve(data.toString())));
  next.send(JSON.stringify({ op: "ping", id: 7 }));
  t.deepEqual(JSON.parse(await reply), { op: "ack", id: 7 });
});
