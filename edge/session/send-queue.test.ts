// The send bound counts UTF-8 bytes, the unit of HERALD_SEND_BUFFER_BYTES and of ws.bufferedAmount,
// not string length: text outside ASCII takes 2 to 4 bytes per character on the wire.
import type { AddressInfo } from "node:net";
import test from "ava";
import { WebSocket, WebSocketServer } from "ws";
import { FlushScheduler, SendQueue } from "./send-queue.js";

/** The server side of a real WebSocket connection on 127.0.0.1, closed when the test ends. */
async function serverSocket(
  t: import("ava").ExecutionContext,
): Promise<{ server: WebSocket; client: WebSocket }> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  t.teardown(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  await new Promise((resolve) => wss.once("listening", resolve));
  const accepted = new Promise<WebSocket>((resolve) => wss.once("connection", resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  t.teardown(() => client.terminate());
  const [server] = await Promise.all([accepted, new Promise((resolve) => client.once("open", resolve))]);
  t.teardown(() => server.terminate());
  return { server, client };
}

test("frames of two-byte characters fill the bound at their UTF-8 size", async (t) => {
  const { server } = await serverSocket(t);
  const queue = new SendQueue(server, 4096, new FlushScheduler());
  const frame = "é".repeat(1000); // 1,000 characters, 2,000 bytes
  // Pushed in one turn (nothing is flushed yet): the third would take the queue to 6,000 bytes.
  t.deepEqual([queue.push(frame), queue.push(frame), queue.push(frame)], [true, true, false]);
});

test("every queued frame arrives, joined into one text frame, and the bound counts bytes per frame", async (t) => {
  const { server, client } = await serverSocket(t);
  const received = new Promise<string>((resolve) =>
    client.once("message", (data) => resolve(data.toString())),
  );
  const queue = new SendQueue(server, 4096, new FlushScheduler());
  const frames = ['{"a":"€"}', '{"b":"😀"}', '{"c":"x"}'];
  t.true(frames.every((f) => queue.push(f)));
  t.is(queue.room(), 2048 - frames.reduce((sum, f) => sum + Buffer.byteLength(f), 0));
  t.is(await received, frames.join("\n"));
});

test("sockets that queued the same frames in a turn each get all of them; one that queued others gets its own", async (t) => {
  const scheduler = new FlushScheduler();
  const pairs = await Promise.all([serverSocket(t), serverSocket(t), serverSocket(t)]);
  const received = pairs.map(
    ({ client }) =>
      new Promise<string>((resolve) => client.once("message", (data) => resolve(data.toString()))),
  );
  const queues = pairs.map(({ server }) => new SendQueue(server, 4096, scheduler));
  // One turn: the first two are in step with a topic (the same two frames), the third has a third.
  for (const frame of ['{"n":1}', '{"n":2}']) for (const queue of queues) queue.push(frame);
  queues[2]!.push('{"n":3}');
  t.deepEqual(await Promise.all(received), [
    '{"n":1}\n{"n":2}',
    '{"n":1}\n{"n":2}',
    '{"n":1}\n{"n":2}\n{"n":3}',
  ]);
});
