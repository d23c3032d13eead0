// The product promise as a user deploys it: a 3-node NATS cluster (R3 stream), three edge processes
// behind a TCP load balancer, 150 SDK clients on 15 topics connected through the balancer, and a
// publisher posting through the balancer with msgIds. Mid-stream one edge is SIGKILLed and so is
// the stream's leader NATS node. Every client ends with every message of its topics once, in
// order; the stored history holds each msgId once.
import test from "ava";
import { startNatsCluster } from "../harness/nats-server.js";
import { startTcpBalancer } from "../harness/tcp-balancer.js";
import { RetryingPublisher, spawnNatsEdge, waitUntil } from "../jetstream/fault-kit.js";
import { deliveryProblems, historyProblems, publishWhile, startSubscribers } from "./cluster-kit.js";

const TOPICS = Array.from({ length: 15 }, (_, i) => `cluster.kill.topic-${i}`);
const CLIENTS = 150;

test("SIGKILL of an edge and of the stream's leader behind a load balancer: 150 clients lose nothing, get nothing twice", async (t) => {
  t.timeout(180_000);
  const cluster = await startNatsCluster(t, 3);
  const env = { HERALD_STREAM_REPLICAS: "3" };
  // Each edge lists every node, starting from a different one.
  const edges = await Promise.all(
    [0, 1, 2].map((k) => spawnNatsEdge(t, [...cluster.urls.slice(k), ...cluster.urls.slice(0, k)], env)),
  );
  const balancer = await startTcpBalancer(
    t,
    edges.map((edge) => edge.port),
  );
  const subscribers = await startSubscribers(t, balancer.wsUrl, TOPICS, CLIENTS);
  const [victim, ...survivors] = edges as [(typeof edges)[0], ...typeof edges];
  const onVictim = balancer.connectionsTo(victim.port);
  t.true(onVictim > 0, "the balancer spread clients onto the edge that will be killed");

  const publisher = new RetryingPublisher(() => balancer.url);
  let faultsDone = false;
  const faults = (async () => {
    await waitUntil("traffic flowing", () => publisher.count >= 60);
    const leader = await cluster.leaderOf("HERALD");
    victim.kill("SIGKILL");
    await leader.stop("SIGKILL");
    await victim.exited;
    // The balancer keeps the dead edge for a while (health checks take time): connects to it fail
    // and are skipped. Then it is taken out, as a real load balancer does after failed checks.
    await waitUntil(
      "the dead edge's clients connected elsewhere",
      () =>
        subscribers.filter((s) => s.reconnects > 0).length >= onVictim &&
        subscribers.every((s) => s.client.state === "open"),
    );
    balancer.remove(victim.port);
    const newLeader = await cluster.leaderOf("HERALD");
    t.not(newLeader.name, leader.name);
    faultsDone = true;
  })();
  await publishWhile(publisher, TOPICS, 12, () => faultsDone);
  await faults;

  t.deepEqual(await deliveryProblems(publisher, subscribers), []);
  const errCodes = subscribers.flatMap((s) => s.errCodes);
  t.log(
    `published ${publisher.count} messages (${publisher.retries} retries with their msgId); ${onVictim} clients moved off the killed edge; balancer ${JSON.stringify(balancer.stats())}; err frames retried by the SDK: ${errCodes.length} (${[...new Set(errCodes)].join(", ")})`,
  );
  t.true(
    subscribers.every((s) => s.client.state === "open"),
    "every client is connected at the end",
  );
  t.is(
    subscribers.filter((s) => s.reconnects > 0).length,
    onVictim,
    "exactly the killed edge's clients reconnected",
  );

  for (const edge of survivors)
    await waitUntil(
      `edge ${edge.port} ready`,
      async () => (await fetch(`${edge.url}/readyz`)).status === 200,
    );
  t.deepEqual(await historyProblems(balancer.url, publisher, TOPICS), []);
});
