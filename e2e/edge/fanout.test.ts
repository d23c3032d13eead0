// Fan-out: 1,000 subscribers of one topic, and 100 topics with 10 subscribers each, receive every
// published message exactly once, in order, with an unbroken prev chain.
import test from "ava";
import type { RunningEdge } from "../../edge/server.js";
import { startTestEdge } from "../harness/test-edge.js";
import { chainProblem, TestClient } from "../harness/ws-client.js";
import { publish } from "../harness/http.js";

async function connectMany(
  t: Parameters<typeof startTestEdge>[0],
  edge: RunningEdge,
  count: number,
): Promise<TestClient[]> {
  const clients: TestClient[] = [];
  t.teardown(() => clients.forEach((c) => c.close()));
  // In groups, so a loaded machine is not asked for 1,000 handshakes at the same instant.
  for (let start = 0; start < count; start += 100) {
    clients.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(100, count - start) }, () => TestClient.ready(edge.wsUrl)),
      )),
    );
  }
  return clients;
}

test("1,000 subscribers of one topic each receive every message once, in order", async (t) => {
  const edge = await startTestEdge(t);
  const clients = await connectMany(t, edge, 1000);
  await Promise.all(clients.map((c) => c.subscribe("big.room")));
  for (let batch = 0; batch < 5; batch++) {
    await publish(
      edge.url,
      Array.from({ length: 10 }, (_, i) => ({ topic: "big.room", data: batch * 10 + i })),
    );
  }
  const expected = Array.from({ length: 50 }, (_, i) => i);
  for (const client of clients) {
    const messages = await client.waitForMessages("big.room", 50, 120_000);
    t.deepEqual(
      messages.map((m) => m.data),
      expected,
    );
    t.is(chainProblem(messages, 0), undefined);
  }
});

test("100 topics with 10 subscribers each: every subscriber gets its topic's messages once, in order", async (t) => {
  const edge = await startTestEdge(t);
  const clients = await connectMany(t, edge, 1000);
  const topicOf = (index: number) => `room.${index % 100}`;
  await Promise.all(clients.map((c, index) => c.subscribe(topicOf(index))));
  // Interleave topics within each batch, so deliveries to different topics mix on the wire.
  for (let round = 0; round < 5; round++) {
    await publish(
      edge.url,
      Array.from({ length: 100 }, (_, topic) => ({ topic: `room.${topic}`, data: { topic, round } })),
    );
  }
  for (const [index, client] of clients.entries()) {
    const messages = await client.waitForMessages(topicOf(index), 5, 120_000);
    t.deepEqual(
      messages.map((m) => m.data),
      [0, 1, 2, 3, 4].map((round) => ({ topic: index % 100, round })),
    );
    t.is(chainProblem(messages, 0), undefined);
    t.is(client.frames.filter((f) => f.op === "msg").length, 5, "no message of another topic");
  }
});
