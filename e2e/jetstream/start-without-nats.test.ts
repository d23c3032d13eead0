// An edge started before NATS is reachable serves its probes, refuses publishes and subscriptions
// clearly, keeps trying, and becomes ready by itself once NATS is there. An incompatible stream
// still stops it at start.
import test from "ava";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort } from "../harness/free-port.js";
import { startNats } from "../harness/nats-server.js";
import { TestClient } from "../harness/ws-client.js";
import {
  probe,
  probePublish,
  RetryingPublisher,
  spawnNatsEdge,
  startSubscriber,
  verdict,
  waitUntil,
} from "./fault-kit.js";

test("an edge started without NATS serves probes, refuses work with 503 / unavailable, and becomes ready once NATS starts", async (t) => {
  const port = await freePort();
  const natsUrl = `nats://127.0.0.1:${port}`;
  const edge = await spawnNatsEdge(t, natsUrl, {}, { waitReady: false });
  await waitUntil(
    "/healthz to answer",
    async () => (await probe(edge.url, "/healthz").catch(() => ({ status: 0 }))).status === 200,
  );

  const readyz = await probe(edge.url, "/readyz");
  t.is(readyz.status, 503);
  t.is(readyz.retryAfter, "1");
  const reason = (readyz.body as { error: { code: string; message: string } }).error;
  t.is(reason.code, "unavailable");
  t.true(reason.message.startsWith(`backend unavailable: cannot reach NATS at ${natsUrl}`), reason.message);

  const publish = await probePublish(edge.url, "early.topic", "too soon");
  t.is(publish.status, 503);
  t.is(publish.retryAfter, "1");
  t.is((publish.body as { error: { code: string } }).error.code, "unavailable");

  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.ws.terminate());
  const refused = await client.request({ op: "sub", topic: "early.topic", id: "s1" });
  t.like(refused, { op: "err", id: "s1", code: "unavailable" });

  // NATS arrives on the port the edge has been trying; no restart of the edge.
  await startNats(t, { port });
  await waitUntil("/readyz to turn 200", async () => (await probe(edge.url, "/readyz")).status === 200);

  const topics = ["early.topic", "early.other"];
  const subscriber = await startSubscriber(t, { urls: () => [edge.wsUrl], topics });
  const publisher = new RetryingPublisher(() => edge.url);
  await publisher.run(topics, 10, -1, async () => undefined, 0);
  t.deepEqual(await verdict(publisher, [subscriber]), []);
  t.is(publisher.retries, 0, "a ready edge acknowledged every publish at once");
  t.is(subscriber.connections, 1);
});

test("an incompatible existing stream still stops the edge at start with its message", async (t) => {
  const nats = await startNats(t);
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  // Same name, other subjects: the edge cannot store or republish its topics there.
  await (await jetstreamManager(nc)).streams.add({ name: "HERALD", subjects: ["elsewhere.>"] });
  const edge = await spawnNatsEdge(t, nats.url, {}, { waitReady: false });
  t.is(await edge.exited, 1);
  t.regex(edge.stdout() + edge.stderr(), /JetStream stream HERALD cannot be used by this edge/);
});
