// A batch of POST /v1/publish is handed to the log all at once (one topic's publishes pipelined,
// not one round trip each): each topic's messages are still stored in the batch's order, with one
// result per message, in the batch's order.
import test from "ava";
import { startNats } from "../harness/nats-server.js";
import { TEST_API_KEY as API_KEY } from "../harness/tokens.js";
import { chainProblem } from "../harness/ws-client.js";
import { probe, spawnNatsEdge } from "./fault-kit.js";

test("a batch of 1000 over two topics: one result per message in the batch's order, each topic stored in that order with an unbroken chain", async (t) => {
  const edge = await spawnNatsEdge(t, (await startNats(t)).url, { HERALD_API_KEYS: API_KEY });
  const batch = Array.from({ length: 1000 }, (_, i) => ({ topic: i % 3 ? "batch.a" : "batch.b", data: i }));
  const answer = await probe(edge.url, "/v1/publish", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify(batch),
  });
  t.is(answer.status, 200);
  const results = answer.body as { seq: number; dup: boolean }[];
  t.is(results.length, batch.length);
  t.true(results.every((r) => !r.dup));
  for (const topic of ["batch.a", "batch.b"]) {
    const sent = batch.flatMap((m, i) => (m.topic === topic ? [{ data: m.data, seq: results[i]!.seq }] : []));
    const history = await probe(edge.url, `/v1/topics/${topic}/messages?after=0&limit=1000`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    const stored = (history.body as { messages: { seq: number; prev: number; data: number }[] }).messages;
    t.deepEqual(
      stored.map((m) => ({ data: m.data, seq: m.seq })),
      sent,
      `${topic}: stored in the batch's order, at the seqs answered`,
    );
    t.is(chainProblem(stored, 0), undefined);
  }
});
