// A rolling restart as Kubernetes does it, behind a TCP load balancer, while traffic flows: for each
// of the three edges a replacement starts and joins the balancer once ready, then the old edge gets
// SIGTERM, its readiness probe fails and the balancer takes it out, and it drains (reconnect frames
// spread over the drain, closes with 1001) and exits 0. The 150 SDK clients end with every message
// of their topics once, in order; the stored history holds each msgId once.
import test from "ava";
import { CloseCode } from "../../protocol/index.js";
import { startNats } from "../harness/nats-server.js";
import { startTcpBalancer } from "../harness/tcp-balancer.js";
import { RetryingPublisher, spawnNatsEdge, waitUntil } from "../jetstream/fault-kit.js";
import {
  deliveryProblems,
  historyProblems,
  publishWhile,
  rollEdge,
  startSubscribers,
} from "./cluster-kit.js";

const TOPICS = Array.from({ length: 15 }, (_, i) => `cluster.rollout.topic-${i}`);
const CLIENTS = 150;
// A short drain keeps the test bounded; the delay lets the balancer notice the failed probe first.
const EDGE_ENV = { HERALD_DRAIN_SECONDS: "2", HERALD_DRAIN_DELAY_MS: "500" };

test("a rolling restart behind a load balancer: clients move in spread-out reconnects, nothing lost, nothing twice", async (t) => {
  t.timeout(180_000);
  const nats = await startNats(t);
  const originals = await Promise.all([0, 1, 2].map(() => spawnNatsEdge(t, nats.url, EDGE_ENV)));
  const balancer = await startTcpBalancer(
    t,
    originals.map((edge) => edge.port),
  );
  const subscribers = await startSubscribers(t, balancer.wsUrl, TOPICS, CLIENTS);

  const publisher = new RetryingPublisher(() => balancer.url);
  let rolledOut = false;
  const exitCodes: (number | null)[] = [];
  const rollout = (async () => {
    await waitUntil("traffic flowing", () => publisher.count >= 30);
    for (const old of originals)
      exitCodes.push((await rollEdge(balancer, old, () => spawnNatsEdge(t, nats.url, EDGE_ENV))).exitCode);
    rolledOut = true;
  })();
  await publishWhile(publisher, TOPICS, 12, () => rolledOut);
  await rollout;

  t.deepEqual(await deliveryProblems(publisher, subscribers), []);
  t.deepEqual(exitCodes, [0, 0, 0], "every old edge drained and exited 0");
  const afterMs = subscribers.flatMap((s) => s.reconnectAfterMs);
  t.log(
    `published ${publisher.count} messages (${publisher.retries} retries); ${afterMs.length} reconnect frames; balancer ${JSON.stringify(balancer.stats())}`,
  );
  for (const [index, s] of subscribers.entries()) {
    // Every client started on an edge that was rolled, so each was asked to move at least once; it
    // went `reconnecting` exactly once per reconnect frame (no other disconnect), each of those
    // connections closed by the edge with 1001, and it is connected again.
    t.true(s.reconnectAfterMs.length >= 1, `client ${index} got a reconnect frame`);
    t.is(s.reconnects, s.reconnectAfterMs.length, `client ${index}: states ${s.states.join(",")}`);
    t.is(
      s.closeCodes.filter((code) => code === CloseCode.Draining).length,
      s.reconnectAfterMs.length,
      `client ${index}: closes ${s.closeCodes.join(",")}`,
    );
    t.is(s.client.state, "open");
  }
  // The edges spread the moves over the drain instead of sending everybody at the same instant.
  t.true(new Set(afterMs).size > 1, `distinct afterMs: ${[...new Set(afterMs)].join(",")}`);

  t.deepEqual(await historyProblems(balancer.url, publisher, TOPICS), []);
});
