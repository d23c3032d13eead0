// A cut NATS connection: one edge's NATS connection is cut (through a TCP proxy) while messages are
// published through another edge; when the connection returns the edge repairs the gap.
import test from "ava";
import { startNats } from "../harness/nats-server.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";
import { sleep } from "../harness/wait.js";
import {
  metricSum,
  RetryingPublisher,
  spawnNatsEdge,
  startSubscribers,
  verdict,
  waitUntil,
} from "./fault-kit.js";

test("an edge cut off from NATS repairs the gap on reconnect before delivering anything newer", async (t) => {
  const nats = await startNats(t);
  const proxy = await startTcpProxy(t, { port: nats.port });
  const [cutEdge, publishEdge] = await Promise.all([spawnNatsEdge(t, proxy.url), spawnNatsEdge(t, nats.url)]);
  const topics = Array.from({ length: 10 }, (_, i) => `fault4.topic-${i}`);
  const subscribers = await startSubscribers(t, 40, (i) => ({
    urls: () => [cutEdge.wsUrl],
    topics: [topics[i % 10]!, topics[(i + 5) % 10]!],
  }));

  const publisher = new RetryingPublisher(() => publishEdge.url);
  await publisher.run(topics, 20, 50, async () => {
    proxy.cut();
    await waitUntil(
      "the cut edge to turn unready",
      async () => (await fetch(`${cutEdge.url}/readyz`)).status === 503,
    );
    // Publishing goes on through the other edge while this one is cut off.
    const before = publisher.count;
    await waitUntil("40 messages published during the cut", () => publisher.count >= before + 40);
    await sleep(100);
    proxy.restore();
  });

  t.deepEqual(await verdict(publisher, subscribers), []);
  t.true(
    subscribers.every((s) => s.connections === 1),
    "clients stayed connected",
  );
  t.true((await metricSum(cutEdge.metricsUrl, /^herald_gap_repairs_total/)) >= 1);
});
