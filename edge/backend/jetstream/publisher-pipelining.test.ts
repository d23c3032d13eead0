// Publishes of one topic kept in flight at once (stream-writer.ts "Pipelining") against a real
// nats-server 2.9.10: whatever the publisher guessed, every stored message's prev is the seq stored
// before it on its topic, nothing is lost or stored twice, and one edge's publishes of a topic are
// stored in the order they were made, also while another writer keeps the stream moving.
import test from "ava";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { startNats } from "../../../e2e/harness/nats-server.js";
import { chainProblem, startBackend } from "../../../e2e/harness/jetstream-support.js";

const COUNT = 300;

test("many publishes of two topics at once: each topic stored in submission order with an unbroken prev chain", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  const outcomes = await Promise.all(
    Array.from({ length: COUNT * 2 }, (_, i) =>
      backend.publish({ topic: i % 2 ? "odd" : "even", data: String(Math.floor(i / 2)) }),
    ),
  );
  for (const topic of ["even", "odd"]) {
    const read = await backend.read(topic, { after: 0 }, 1000);
    t.deepEqual(
      read.messages.map((m) => m.data),
      Array.from({ length: COUNT }, (_, i) => String(i)),
    );
    t.is(chainProblem(read.messages, 0), undefined);
  }
  t.deepEqual(
    outcomes.filter((o) => o.dup),
    [],
  );
  t.is(new Set(outcomes.map((o) => o.seq)).size, COUNT * 2);
});

test("another writer moving the stream meanwhile: refused guesses are resent in order, the chain holds", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const js = jetstream(nc);
  // A writer of another topic of the same stream: every seq it takes is one this edge did not predict.
  let stop = false;
  const other = (async () => {
    for (let i = 0; !stop; i++) await js.publish("herald.t.elsewhere", String(i));
  })();
  const outcomes = await Promise.all(
    Array.from({ length: COUNT }, (_, i) => backend.publish({ topic: "busy", data: String(i) })),
  );
  stop = true;
  await other;
  const read = await backend.read("busy", { after: 0 }, 1000);
  t.deepEqual(
    read.messages.map((m) => m.data),
    Array.from({ length: COUNT }, (_, i) => String(i)),
  );
  t.is(chainProblem(read.messages, 0), undefined);
  t.deepEqual(
    outcomes.map((o) => o.seq),
    read.messages.map((m) => m.seq),
  );
});

test("two edges pipelining into one topic: every message stored once, one unbroken prev chain", async (t) => {
  const nats = await startNats(t);
  const { backend: one } = await startBackend(t, nats.url);
  const { backend: two } = await startBackend(t, nats.url);
  const outcomes = await Promise.all(
    Array.from({ length: COUNT }, (_, i) =>
      (i % 2 ? one : two).publish({ topic: "shared", data: String(i) }),
    ),
  );
  const read = await one.read("shared", { after: 0 }, 1000);
  t.is(read.messages.length, COUNT);
  t.is(chainProblem(read.messages, 0), undefined);
  t.deepEqual(
    read.messages.map((m) => Number(m.data)).sort((a, b) => a - b),
    Array.from({ length: COUNT }, (_, i) => i),
  );
  t.deepEqual(
    outcomes.map((o) => o.seq).sort((a, b) => a - b),
    read.messages.map((m) => m.seq),
  );
});
