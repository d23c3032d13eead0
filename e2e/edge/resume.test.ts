// Resume (docs/design.md#subscribing-and-resuming): a client that comes back with its position gets every message it
// missed once, in order, then live ones, with no gap and no duplicate at the hand-over; positions
// outside retention or from another epoch are answered with recovered:false.
import test from "ava";
import type { SubOkFrame } from "../../protocol/index.js";
import { startTestEdge } from "../harness/test-edge.js";
import { chainProblem, TestClient } from "../harness/ws-client.js";
import { publish } from "../harness/http.js";

async function publishMany(url: string, topic: string, values: unknown[]): Promise<number[]> {
  return (
    await publish(
      url,
      values.map((data) => ({ topic, data })),
    )
  ).map((r) => r.seq);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test("resume after a disconnect: the messages published while away, then live ones, chain unbroken", async (t) => {
  const edge = await startTestEdge(t);
  const first = await TestClient.ready(edge.wsUrl);
  const subok = (await first.subscribe("game.1")) as SubOkFrame;
  await publishMany(edge.url, "game.1", range(1, 3));
  const seen = await first.waitForMessages("game.1", 3);
  first.close();
  await first.waitForClose();

  await publishMany(edge.url, "game.1", range(4, 8));
  const again = await TestClient.ready(edge.wsUrl);
  t.teardown(() => again.close());
  const last = seen.at(-1)!.seq;
  t.like(await again.subscribe("game.1", { epoch: subok.epoch, seq: last }), {
    seq: last,
    recovered: true,
    epoch: subok.epoch,
  });
  await publishMany(edge.url, "game.1", range(9, 10));
  const resumed = await again.waitForMessages("game.1", 7);
  t.deepEqual(
    resumed.map((m) => m.data),
    range(4, 10),
  );
  t.is(chainProblem(resumed, last), undefined);
});

test("resume while messages keep arriving: no gap and no duplicate at the hand-over", async (t) => {
  const edge = await startTestEdge(t);
  await publishMany(edge.url, "busy.t", range(1, 50));
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  const epoch = (await (await fetch(`${edge.url}/v1/topics/busy.t/messages?limit=1`)).json()) as {
    epoch: string;
  };
  // Publishing runs concurrently with the resume's replay.
  const publishing = (async () => {
    for (let batch = 0; batch < 10; batch++)
      await publishMany(edge.url, "busy.t", range(51 + batch * 10, 60 + batch * 10));
  })();
  client.send({ op: "sub", topic: "busy.t", id: 1, from: { epoch: epoch.epoch, seq: 10 } });
  await publishing;
  const messages = await client.waitForMessages("busy.t", 140);
  t.deepEqual(
    messages.map((m) => m.data),
    range(11, 150),
  );
  t.is(chainProblem(messages, 10), undefined);
});

test("resume at the edge of retention: the oldest retained message's prev still recovers; one before does not", async (t) => {
  const edge = await startTestEdge(t, { HERALD_MAX_MSGS_PER_TOPIC: "5" });
  const seqs = await publishMany(edge.url, "ret.t", range(1, 10));
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  const { epoch } = (await (await fetch(`${edge.url}/v1/topics/ret.t/messages`)).json()) as { epoch: string };

  // Messages 6..10 are retained: after seq of message 5 everything is still there.
  t.like(await client.subscribe("ret.t", { epoch, seq: seqs[4]! }, "edge"), {
    seq: seqs[4],
    recovered: true,
  });
  const retained = await client.waitForMessages("ret.t", 5);
  t.deepEqual(
    retained.map((m) => m.data),
    range(6, 10),
  );
  t.is(chainProblem(retained, seqs[4]!), undefined);

  // After message 4, message 5 is gone: not recoverable, delivery continues from the head.
  const late = await TestClient.ready(edge.wsUrl);
  t.teardown(() => late.close());
  t.like(await late.subscribe("ret.t", { epoch, seq: seqs[3]! }, "late"), { seq: seqs[9], recovered: false });
  await publishMany(edge.url, "ret.t", [11]);
  const live = await late.waitForMessages("ret.t", 1);
  t.deepEqual(
    live.map((m) => [m.data, m.prev]),
    [[11, seqs[9]]],
  );
});

test("recovered:false for a position from another epoch; delivery continues from the head", async (t) => {
  const edge = await startTestEdge(t);
  const seqs = await publishMany(edge.url, "epoch.t", range(1, 3));
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  const subok = (await client.subscribe("epoch.t", { epoch: "some-other-epoch", seq: 1 })) as SubOkFrame;
  t.like(subok, { seq: seqs[2], recovered: false });
  t.not(subok.epoch, "some-other-epoch");
  await publishMany(edge.url, "epoch.t", [4]);
  const messages = await client.waitForMessages("epoch.t", 1);
  t.deepEqual(
    messages.map((m) => m.data),
    [4],
  );
});

test("from:{last:K}: the last K retained messages, then live; subok.seq is the prev of the first", async (t) => {
  const edge = await startTestEdge(t);
  const seqs = await publishMany(edge.url, "last.t", range(1, 10));
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  t.like(await client.subscribe("last.t", { last: 3 }), { seq: seqs[6], recovered: true });
  await publishMany(edge.url, "last.t", [11]);
  const messages = await client.waitForMessages("last.t", 4);
  t.deepEqual(
    messages.map((m) => m.data),
    [8, 9, 10, 11],
  );
  t.is(chainProblem(messages, seqs[6]!), undefined);

  const empty = await TestClient.ready(edge.wsUrl);
  t.teardown(() => empty.close());
  t.like(await empty.subscribe("last.empty", { last: 5 }), { seq: 0, recovered: true });
});
