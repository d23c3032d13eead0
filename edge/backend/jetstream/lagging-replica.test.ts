// An R3 resume answered by a replica that lags: direct gets may come from a
// follower that has not applied the newest messages, so the topic's head it reports can be below
// the position a client brings from an edge fed by a faster one. That position must not be taken
// for one beyond the head (recovered:false, then a restart below it: duplicates).
import test from "ava";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startNats } from "../../../e2e/harness/nats-server.js";
import { startBackend } from "../../../e2e/harness/jetstream-support.js";
import { readHistory } from "./history.js";
import type { StreamReader } from "./reader.js";
import { storedSubject } from "../../../shared/stream-config.js";

test("a position above the head a lagging replica reports is recovered when the leader has it, and nothing before it is read again", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  const real = (backend as unknown as { reader: StreamReader }).reader;
  const seqs: number[] = [];
  for (let i = 0; i < 5; i++) seqs.push((await backend.publish({ topic: "lag", data: String(i) })).seq);
  const stale = await real.at("lag", seqs[1]!);
  // A follower two messages behind: its last message of the topic is the second.
  const lagging = Object.create(real) as StreamReader;
  lagging.last = async (topic, fromLeader) => (fromLeader ? real.last(topic, true) : stale);

  const atHead = await readHistory(lagging, backend.epoch(), "lag", { after: seqs[4]! }, 100);
  t.like(atHead, { recovered: true, head: seqs[4], messages: [] });
  const between = await readHistory(lagging, backend.epoch(), "lag", { after: seqs[3]! }, 100);
  t.true(between.recovered);
  t.deepEqual(
    between.messages.map((m) => m.seq),
    [seqs[4]],
  );
  // Beyond the leader's head too: not a position of this topic.
  t.like(await readHistory(lagging, backend.epoch(), "lag", { after: seqs[4]! + 50 }, 100), {
    recovered: false,
    messages: [],
  });
});

test("a topic that retention empties between reading its head and reading its messages is answered, not waited for until unavailable", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const real = (backend as unknown as { reader: StreamReader }).reader;
  const first = await backend.publish({ topic: "aging", data: "A" });
  await backend.publish({ topic: "aging", data: "B" });
  // Retention (max_age) removing both right after the head was read: a purge of the topic at
  // that instant removes them the same way.
  const racing = Object.create(real) as StreamReader;
  racing.last = async (topic, fromLeader) => {
    if (fromLeader) return real.last(topic, true);
    const newest = await real.last(topic);
    await jsm.streams.purge("HERALD", { filter: storedSubject("herald", topic) });
    return newest;
  };
  t.like(await readHistory(racing, backend.epoch(), "aging", { after: 0, orOldest: true }, 100), {
    recovered: false,
    messages: [],
  });
  t.like(await readHistory(racing, backend.epoch(), "aging", { after: first.seq }, 100), {
    recovered: false,
    messages: [],
  });
});

test("a replica that has not applied a topic's first message yet does not make the topic look empty: the leader is asked", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  const real = (backend as unknown as { reader: StreamReader }).reader;
  const first = await backend.publish({ topic: "new", data: "1" });
  // A follower that has not applied it: no message for the topic.
  const lagging = Object.create(real) as StreamReader;
  lagging.replicated = true;
  lagging.last = async (topic, fromLeader) => (fromLeader ? real.last(topic, true) : undefined);
  const read = await readHistory(lagging, backend.epoch(), "new", { after: 0 }, 100);
  t.like(read, { recovered: true, head: first.seq });
  t.deepEqual(
    read.messages.map((m) => m.seq),
    [first.seq],
  );
});
