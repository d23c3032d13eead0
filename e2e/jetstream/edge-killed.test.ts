// An edge killed: two edges on one NATS; 200 subscribers on edge A over 20 topics, a publisher
// through edge B; edge A is SIGKILLed mid-stream and its subscribers resume on edge B.
import test from "ava";
import { startNats } from "../harness/nats-server.js";
import { RetryingPublisher, spawnNatsEdge, startSubscribers, verdict } from "./fault-kit.js";

test("SIGKILL of the edge serving 200 subscribers: they resume on the other edge, losing nothing", async (t) => {
  const nats = await startNats(t);
  const [edgeA, edgeB] = await Promise.all([spawnNatsEdge(t, nats.url), spawnNatsEdge(t, nats.url)]);
  const topics = Array.from({ length: 20 }, (_, i) => `fault1.topic-${i}`);
  let aAlive = true;
  const subscribers = await startSubscribers(t, 200, (i) => ({
    // Edge A first while it lives; afterwards only edge B is there to reconnect to.
    urls: () => (aAlive ? [edgeA.wsUrl] : [edgeB.wsUrl]),
    topics: [topics[i % 20]!, topics[(i + 7) % 20]!],
  }));

  const publisher = new RetryingPublisher(() => edgeB.url);
  await publisher.run(topics, 15, 150, async () => {
    aAlive = false;
    edgeA.kill("SIGKILL");
    await edgeA.exited;
  });

  t.deepEqual(await verdict(publisher, subscribers), []);
  t.true(
    subscribers.every((s) => s.connections >= 2),
    "every subscriber reconnected",
  );
  t.is(publisher.count, 300);
});
