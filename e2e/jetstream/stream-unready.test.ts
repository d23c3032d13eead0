// The NATS connection is up but the stream cannot answer (an R3 stream that lost its quorum): the
// edge reports it on /readyz instead of claiming ready while publishes fail, and turns ready again
// by itself once the stream answers.
import test from "ava";
import { startNatsCluster } from "../harness/nats-server.js";
import {
  probe,
  probePublish,
  RetryingPublisher,
  spawnNatsEdge,
  startSubscriber,
  verdict,
  waitUntil,
} from "./fault-kit.js";

const READY_REASON =
  /^backend unavailable: (NATS connected but )?stream HERALD (does not answer|is not usable)/;

test("a stream without quorum turns /readyz to 503 with the reason while the connection stays up, and back to 200 when it recovers", async (t) => {
  const cluster = await startNatsCluster(t, 3);
  const [survivor, ...lost] = cluster.nodes as [(typeof cluster.nodes)[0], ...typeof cluster.nodes];
  // The edge talks to one node only: its connection stays up through the whole test.
  const edge = await spawnNatsEdge(t, survivor.url, { HERALD_STREAM_REPLICAS: "3" });
  const topics = ["quorum.a", "quorum.b"];
  const subscriber = await startSubscriber(t, { urls: () => [edge.wsUrl], topics });
  const publisher = new RetryingPublisher(() => edge.url);
  for (const topic of topics) await publisher.publish(topic, `${topic}#0`);

  await Promise.all(lost.map((node) => node.stop("SIGKILL")));
  await waitUntil(
    "/readyz to report the stream",
    async () => (await probe(edge.url, "/readyz")).status === 503,
  );
  const readyz = await probe(edge.url, "/readyz");
  const reason = (readyz.body as { error: { code: string; message: string } }).error;
  t.is(reason.code, "unavailable");
  t.regex(reason.message, READY_REASON);
  const publish = await probePublish(edge.url, "quorum.a", "no quorum");
  t.is(publish.status, 503);
  t.is(publish.retryAfter, "1");

  await Promise.all(lost.map((node) => node.restart()));
  await waitUntil("/readyz to turn 200 again", async () => (await probe(edge.url, "/readyz")).status === 200);
  for (let i = 1; i < 6; i++) for (const topic of topics) await publisher.publish(topic, `${topic}#${i}`);
  t.deepEqual(await verdict(publisher, [subscriber]), []);
  t.is(subscriber.connections, 1, "the client stayed connected");
});
