// The stream leader killed: a 3-node JetStream cluster with an R3 stream; the stream's leader is SIGKILLed
// mid-stream. The publisher retries unacknowledged messages with the same msgId: no duplicate is
// stored or delivered.
import test from "ava";
import { startNatsCluster } from "../harness/nats-server.js";
import { RetryingPublisher, spawnNatsEdge, startSubscribers, verdict, waitUntil } from "./fault-kit.js";
import { TEST_API_KEY } from "../harness/tokens.js";
import { history } from "../harness/http.js";

test("SIGKILL of the R3 stream's leader: no loss, no duplicate stored or delivered", async (t) => {
  const cluster = await startNatsCluster(t, 3);
  const env = { HERALD_STREAM_REPLICAS: "3" };
  // The edges know every node, each starting from a different one.
  const [edgeA, edgeB] = await Promise.all([
    spawnNatsEdge(t, cluster.urls, env),
    spawnNatsEdge(t, [...cluster.urls].reverse(), env),
  ]);
  const topics = Array.from({ length: 10 }, (_, i) => `fault3.topic-${i}`);
  const subscribers = await startSubscribers(t, 40, (i) => ({
    urls: () => [i % 2 ? edgeA.wsUrl : edgeB.wsUrl],
    topics: [topics[i % 10]!, topics[(i + 5) % 10]!],
  }));

  const leader = await cluster.leaderOf("HERALD");
  let publishVia = edgeA;
  const publisher = new RetryingPublisher(() => publishVia.url);
  await publisher.run(topics, 20, 60, async () => {
    await leader.stop("SIGKILL");
    // Alternate edges for the rest, so both publish through a new leader.
    publishVia = edgeB;
  });

  t.deepEqual(await verdict(publisher, subscribers), []);
  t.log(`publishes retried with their msgId: ${publisher.retries}`);
  const newLeader = await cluster.leaderOf("HERALD");
  t.not(newLeader.name, leader.name);
  // What is stored: each message exactly once per topic, in publish order, chained on prev
  // (read once the edge reports its backend ready again).
  await waitUntil("edge A ready", async () => (await fetch(`${edgeA.url}/readyz`)).status === 200);
  for (const topic of topics) {
    const stored = await history(edgeA.url, topic, { bearer: TEST_API_KEY });
    t.deepEqual(
      stored.messages.map((m) => m.data),
      publisher.published.get(topic),
    );
    t.deepEqual(
      stored.messages.map((m) => m.prev),
      [0, ...stored.messages.slice(0, -1).map((m) => m.seq)],
    );
  }
});
