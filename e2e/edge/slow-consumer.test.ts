// A client that never reads is closed with 4008 once its send buffer is full, the edge's memory
// returns to its baseline, and the other subscribers of the topic miss nothing.
import test from "ava";
import { spawnEdge, type EdgeProcess } from "../harness/edge-process.js";
import { HEAP_PROBE, heapOf, MiB, mib } from "../harness/heap.js";
import { chainProblem, TestClient } from "../harness/ws-client.js";
import { publish } from "../harness/http.js";

async function publishBatch(url: string, topic: string, values: { n: number; pad: string }[]) {
  await publish(
    url,
    values.map((data) => ({ topic, data })),
  );
}

async function slowConsumerCloses(edge: EdgeProcess): Promise<number> {
  const text = await (await fetch(`${edge.metricsUrl}/metrics`)).text();
  return Number(/^herald_closes_total\{code="4008"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

test("a client that never reads gets 4008; memory returns near baseline; others see every message", async (t) => {
  const edge = await spawnEdge(
    t,
    {
      HERALD_SEND_BUFFER_BYTES: String(MiB),
      HERALD_MAX_MSGS_PER_TOPIC: "50",
      HERALD_CACHE_PER_TOPIC: "50",
      HERALD_HISTORY_LIMIT: "50",
    },
    HEAP_PROBE,
  );
  const pad = "x".repeat(1024);
  let n = 0;
  const batch = () => Array.from({ length: 250 }, () => ({ n: ++n, pad }));

  const reader = await TestClient.ready(edge.wsUrl);
  t.teardown(() => reader.close());
  await reader.subscribe("firehose");
  // Warm up: fill retention and the ring so the baseline already holds them.
  // The reader is well-behaved: it keeps up (each batch is read before the next is published).
  const publishRead = async () => {
    await publishBatch(edge.url, "firehose", batch());
    await reader.waitForMessages("firehose", n, 60_000);
  };
  for (let i = 0; i < 10; i++) await publishRead();
  const baseline = await heapOf(edge);
  t.true(baseline.gc, "the edge runs with --expose-gc");

  const stalled = await TestClient.ready(edge.wsUrl);
  await stalled.subscribe("firehose");
  stalled.ws.pause();
  // 25,000 messages of 1 KiB: ~25 MiB that an unbounded queue would have to hold for this client.
  while (n < 25_000) await publishRead();
  t.is(await slowConsumerCloses(edge), 1);

  const received = reader.messages("firehose");
  t.is(received.length, n);
  t.deepEqual(
    received.map((m) => (m.data as { n: number }).n),
    Array.from({ length: n }, (_, i) => i + 1),
  );
  t.is(chainProblem(received, 0), undefined);

  // While the client is still stalled, the edge holds at most its send buffer for it.
  const stalledHeap = await heapOf(edge);
  // Once it reads again, the stalled client finds the close frame behind what was already sent.
  stalled.ws.resume();
  t.deepEqual(await stalled.waitForClose(60_000), {
    code: 4008,
    reason: "send buffer of 1048576 bytes exceeded; reconnect and resume",
  });
  const after = await heapOf(edge);

  for (const [when, heap] of [
    ["stalled", stalledHeap],
    ["after", after],
  ] as const) {
    t.log(
      `${when}: heapUsed ${mib(baseline.heapUsed)} → ${mib(heap.heapUsed)} MiB; arrayBuffers ${mib(baseline.arrayBuffers)} → ${mib(heap.arrayBuffers)} MiB`,
    );
    t.true(heap.heapUsed < baseline.heapUsed + 8 * MiB, `${when}: heap near baseline`);
    t.true(heap.arrayBuffers < baseline.arrayBuffers + 8 * MiB, `${when}: buffers near baseline`);
  }
});
