// A resume or last:K whose backlog is many times the connection's send buffer is paced by the
// client's reading (docs/design.md#slow-consumers: a client that was cut off "reconnects and resumes
// from its position, losing nothing"). Sent all at once, such a backlog would overflow the buffer
// and end in 4008 on every reconnect, so that client could never catch up.
import test from "ava";
import type { SubOkFrame } from "../../protocol/index.js";
import { startTestEdge } from "../harness/test-edge.js";
import { chainProblem, TestClient } from "../harness/ws-client.js";
import { publish } from "../harness/http.js";

const SEND_BUFFER = 64 * 1024;
const MESSAGES = 200;
/** About 8 KB of data each: the backlog is 25 times the send buffer. */
const payload = (n: number) => ({ n, pad: "x".repeat(8_000) });

async function publishBacklog(url: string, topic: string): Promise<void> {
  // In batches: an HTTP body is bounded by 16 x HERALD_MAX_FRAME_BYTES.
  for (let first = 1; first <= MESSAGES; first += 10) {
    const body = Array.from({ length: 10 }, (_, i) => ({ topic, data: payload(first + i) }));
    await publish(url, body);
  }
}

const cases = [
  { name: "resume served from the ring", env: {}, from: "position" },
  {
    name: "resume served from the log in pages",
    env: { HERALD_CACHE_PER_TOPIC: "10", HERALD_HISTORY_LIMIT: "50" },
    from: "position",
  },
  { name: "last:K served from the ring", env: {}, from: "last" },
] as const;

for (const { name, env, from } of cases) {
  test(`${name}: a backlog 25x the send buffer arrives in full, in order, without 4008`, async (t) => {
    const edge = await startTestEdge(t, {
      HERALD_SEND_BUFFER_BYTES: String(SEND_BUFFER),
      HERALD_MAX_FRAME_BYTES: "16384",
      ...env,
    });
    const topic = "backlog.topic";
    const first = await TestClient.ready(edge.wsUrl);
    const subok = (await first.subscribe(topic)) as SubOkFrame;
    first.close();
    await first.waitForClose();
    await publishBacklog(edge.url, topic);

    const again = await TestClient.ready(edge.wsUrl);
    t.teardown(() => again.close());
    await again.subscribe(
      topic,
      from === "last" ? { last: MESSAGES } : { epoch: subok.epoch, seq: subok.seq },
    );
    const received = await again.waitForMessages(topic, MESSAGES);
    t.deepEqual(
      received.map((m) => (m.data as { n: number }).n),
      Array.from({ length: MESSAGES }, (_, i) => i + 1),
    );
    t.is(chainProblem(received, subok.seq), undefined);
    t.is(again.closed, undefined);
  });
}

test("a non-ASCII backlog (60 messages of 20,000 CJK characters, last:60) arrives in full: replay pacing counts UTF-8 bytes, the unit of the send buffer", async (t) => {
  const edge = await startTestEdge(t);
  const topic = "cjk.topic";
  const text = "漢".repeat(20_000);
  for (let n = 1; n <= 60; n++) {
    const response = await fetch(`${edge.url}/v1/publish`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ topic, data: { n, text } }),
    });
    if (response.status !== 200) throw new Error(`publish failed: ${response.status}`);
  }
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  const subok = (await client.subscribe(topic, { last: 60 })) as SubOkFrame;
  const received = await client.waitForMessages(topic, 60);
  t.deepEqual(
    received.map((m) => (m.data as { n: number }).n),
    Array.from({ length: 60 }, (_, i) => i + 1),
  );
  t.is((received[59]!.data as { text: string }).text, text);
  t.is(chainProblem(received, subok.seq), undefined);
  t.is(client.closed, undefined);
});

test("20 topics resumed at once on one connection, 60 KB messages: every replay arrives in full without 4008 (the progress guarantee is per connection, not per subscription)", async (t) => {
  const edge = await startTestEdge(t);
  const topics = Array.from({ length: 20 }, (_, i) => `many.t${i}`);
  const first = await TestClient.ready(edge.wsUrl);
  const positions = await Promise.all(
    topics.map(async (topic) => (await first.subscribe(topic)) as SubOkFrame),
  );
  first.close();
  await first.waitForClose();
  const pad = "x".repeat(60_000);
  for (let n = 1; n <= 5; n++) {
    for (const topic of topics) {
      const response = await fetch(`${edge.url}/v1/publish`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ topic, data: { n, pad } }),
      });
      if (response.status !== 200) throw new Error(`publish failed: ${response.status}`);
    }
  }
  const again = await TestClient.ready(edge.wsUrl);
  t.teardown(() => again.close());
  await Promise.all(
    topics.map((topic, i) => again.subscribe(topic, { epoch: positions[i]!.epoch, seq: positions[i]!.seq })),
  );
  for (const [i, topic] of topics.entries()) {
    const received = await again.waitForMessages(topic, 5);
    t.deepEqual(
      received.map((m) => (m.data as { n: number }).n),
      [1, 2, 3, 4, 5],
    );
    t.is(chainProblem(received, positions[i]!.seq), undefined);
  }
  t.is(again.closed, undefined);
});
