// Retention and epochs: a position older than retention (or from another epoch) gets recovered:false,
// and the client then continues from the head: every later message once, in order, chained.
import test from "ava";
import type { SubOkFrame } from "../../protocol/index.js";
import { startNats } from "../harness/nats-server.js";
import { chainProblem, TestClient } from "../harness/ws-client.js";
import { probe, RetryingPublisher, spawnNatsEdge, waitUntil } from "./fault-kit.js";

test("a position older than retention: recovered:false, then every message from the head", async (t) => {
  const nats = await startNats(t);
  // One edge publishes (so the subscribing edge's ring holds nothing and it must ask JetStream).
  const [edge, publishEdge] = await Promise.all([
    spawnNatsEdge(t, nats.url, { HERALD_MAX_MSGS_PER_TOPIC: "5" }),
    spawnNatsEdge(t, nats.url, { HERALD_MAX_MSGS_PER_TOPIC: "5" }),
  ]);
  const publisher = new RetryingPublisher(() => publishEdge.url);
  for (let i = 0; i < 12; i++) await publisher.publish("fault5.a", `old-${i}`);
  const seqs = publisher.seqs.get("fault5.a")!;
  const head = seqs.at(-1)!;

  const probe = await TestClient.ready(edge.wsUrl);
  t.teardown(() => probe.close());
  const epoch = ((await probe.subscribe("fault5.a")) as SubOkFrame).epoch;

  // Resumes: too old, from another epoch, and one still retained.
  const clients = await Promise.all([0, 1, 2].map(() => TestClient.ready(edge.wsUrl)));
  t.teardown(() => clients.forEach((c) => c.close()));
  const [expired, otherEpoch, retained] = clients as [TestClient, TestClient, TestClient];
  t.like(await expired.subscribe("fault5.a", { epoch, seq: seqs[2]! }), {
    op: "subok",
    recovered: false,
    epoch,
    seq: head,
  });
  t.like(await otherEpoch.subscribe("fault5.a", { epoch: "another-epoch", seq: seqs[9]! }), {
    op: "subok",
    recovered: false,
    epoch,
    seq: head,
  });
  t.like(await retained.subscribe("fault5.a", { epoch, seq: seqs[8]! }), {
    op: "subok",
    recovered: true,
    epoch,
    seq: seqs[8],
  });

  for (let i = 0; i < 5; i++) await publisher.publish("fault5.a", `new-${i}`);
  const fresh = publisher.published.get("fault5.a")!.slice(12);
  for (const client of [expired, otherEpoch]) {
    // Delivery is in order: anything old or repeated would show up among the first five.
    const got = await client.waitForMessages("fault5.a", 5);
    t.deepEqual(
      got.map((m) => m.data),
      fresh,
    );
    t.is(chainProblem(got, head), undefined);
  }
  const all = await retained.waitForMessages("fault5.a", 8);
  t.deepEqual(
    all.map((m) => m.data),
    publisher.published.get("fault5.a")!.slice(9),
  );
  t.is(chainProblem(all, seqs[8]!), undefined);
});

test("a message lost while away and then aged out, with the topic emptied before the next one: recovered:false on the WebSocket and over HTTP (prev < position proves nothing)", async (t) => {
  const nats = await startNats(t);
  const edge = await spawnNatsEdge(t, nats.url, {
    HERALD_MAX_AGE_SECONDS: "1",
    HERALD_DUPLICATE_WINDOW_SECONDS: "1",
  });
  const publisher = new RetryingPublisher(() => edge.url);
  const client = await TestClient.ready(edge.wsUrl);
  const subok = (await client.subscribe("aged.t")) as SubOkFrame;
  await publisher.publish("aged.t", "A");
  const [a] = await client.waitForMessages("aged.t", 1);
  client.close();
  await client.waitForClose();
  await publisher.publish("aged.t", "B");
  await waitUntil("A and B to age out", async () => {
    const history = await probe(edge.url, "/v1/topics/aged.t/messages?after=0");
    if (history.status !== 200) throw new Error(`history answered ${JSON.stringify(history)}`);
    return (history.body as { messages: [] }).messages.length === 0;
  });
  await publisher.publish("aged.t", "C");
  const again = await TestClient.ready(edge.wsUrl);
  t.teardown(() => again.close());
  t.like(await again.subscribe("aged.t", { epoch: subok.epoch, seq: a!.seq }), { recovered: false });
  const history = await probe(edge.url, `/v1/topics/aged.t/messages?after=${a!.seq}`);
  t.like(history, { status: 200, body: { recovered: false } });
});
