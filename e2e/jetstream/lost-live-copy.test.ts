// A republished live copy is lost on a connection that stays up (core NATS is at most once: the
// server drops messages to a slow consumer) and no later message of the topic reveals the gap. The
// periodic head check finds it: the subscriber gets the message exactly once, in order.
import test from "ava";
import { startNats } from "../harness/nats-server.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";
import {
  metricSum,
  RetryingPublisher,
  spawnNatsEdge,
  startSubscribers,
  verdict,
  waitUntil,
} from "./fault-kit.js";

test("a live copy lost with no later message is delivered by the periodic head check, once and in order", async (t) => {
  const nats = await startNats(t);
  // The subscribers' edge reads NATS through a proxy that can leave out chosen messages.
  const proxy = await startTcpProxy(t, { port: nats.port }, { inspectMessages: true });
  const [edge, publishEdge] = await Promise.all([
    spawnNatsEdge(t, proxy.url, { HERALD_HEAD_CHECK_SECONDS: "1" }),
    spawnNatsEdge(t, nats.url),
  ]);
  const topics = ["lost.quiet", "lost.busy"];
  const subscribers = await startSubscribers(t, 4, () => ({ urls: () => [edge.wsUrl], topics }));

  const publisher = new RetryingPublisher(() => publishEdge.url);
  for (let i = 0; i < 5; i++) for (const topic of topics) await publisher.publish(topic, `${topic}#${i}`);
  await waitUntil("the first messages to arrive live", () =>
    subscribers.every((s) => s.received.get("lost.quiet")?.length === 5),
  );

  // The live copies of the quiet topic's next two messages never reach the edge; nothing follows them.
  proxy.dropMessages((subject) => subject === "herald.live.lost.quiet");
  await publisher.publish("lost.quiet", "lost.quiet#5");
  await publisher.publish("lost.quiet", "lost.quiet#6");
  await waitUntil("both live copies to be dropped", () => proxy.dropped() === 2);
  proxy.dropMessages(undefined);
  // Still repaired by the head check alone: no later message on the quiet topic until it arrived.
  await waitUntil("the lost messages to arrive", () =>
    subscribers.every((s) => s.received.get("lost.quiet")?.length === 7),
  );
  t.true((await metricSum(edge.metricsUrl, /^herald_gap_repairs_total/)) >= 1);
  t.true((await metricSum(edge.metricsUrl, /^herald_backend_reads_total\{kind="head-check"\}/)) >= 1);

  for (let i = 7; i < 10; i++) await publisher.publish("lost.quiet", `lost.quiet#${i}`);
  for (let i = 5; i < 10; i++) await publisher.publish("lost.busy", `lost.busy#${i}`);
  t.deepEqual(await verdict(publisher, subscribers), []);
  t.true(
    subscribers.every((s) => s.connections === 1),
    "clients stayed connected",
  );
});
