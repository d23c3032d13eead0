// Read amplification on JetStream: resumes from positions beyond a topic's head, repeated as fast as
// the connection's frame limit allows, cost the log less than one page of the topic in all (each
// used to read a page of up to 1,000 messages and throw it away), every one is answered
// recovered:false at the head, and a bystander receives its topic's messages meanwhile, once each,
// in order. What the edge reads is counted on the wire, through a proxy in front of nats-server.
import test from "ava";
import { publish, range } from "../harness/http.js";
import { startNats } from "../harness/nats-server.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";
import { TEST_API_KEY } from "../harness/tokens.js";
import { chainProblem, TestClient } from "../harness/ws-client.js";
import { spawnNatsEdge } from "../jetstream/fault-kit.js";

const TOPIC = "hostile.amplified";
const MESSAGES = 1_000;
const DATA = "x".repeat(1_000);
const RESUMES = 60;

test(`${RESUMES} resumes beyond the head cost JetStream less than one page of the topic; a bystander misses nothing`, async (t) => {
  t.timeout(120_000);
  const nats = await startNats(t);
  const proxy = await startTcpProxy(t, { port: nats.port });
  // No ring: every resume is the log's to answer, the attacker's best case.
  const edge = await spawnNatsEdge(t, proxy.url, { HERALD_CACHE_PER_TOPIC: "0" });
  let head = 0;
  for (let batch = 0; batch < MESSAGES / 100; batch++) {
    const acks = await publish(
      edge.url,
      range(100).map(() => ({ topic: TOPIC, data: DATA })),
      TEST_API_KEY,
    );
    head = (acks as { seq: number }[]).at(-1)!.seq;
  }
  const bystander = await TestClient.ready(edge.wsUrl);
  t.teardown(() => bystander.close());
  const watching = (await bystander.subscribe("hostile.bystander")) as { seq: number };
  const attacker = await TestClient.ready(edge.wsUrl);
  t.teardown(() => attacker.close());
  const { epoch } = (await attacker.subscribe(TOPIC)) as { epoch: string };
  await attacker.request({ op: "unsub", topic: TOPIC, id: "u" });

  const before = proxy.bytesFromTarget();
  const answers: { recovered: boolean; seq: number }[] = [];
  for (let i = 0; i < RESUMES; i++) {
    const subok = (await attacker.subscribe(TOPIC, { epoch, seq: head + 1_000_000 + i }, `r${i}`)) as {
      recovered: boolean;
      seq: number;
    };
    answers.push({ recovered: subok.recovered, seq: subok.seq });
    await attacker.request({ op: "unsub", topic: TOPIC, id: `u${i}` });
    if (i % 3 === 0) await publish(edge.url, { topic: "hostile.bystander", data: i }, TEST_API_KEY);
  }
  const read = proxy.bytesFromTarget() - before;

  t.deepEqual(
    answers,
    Array.from({ length: RESUMES }, () => ({ recovered: false, seq: head })),
  );
  const page = MESSAGES * DATA.length;
  t.true(
    read < page,
    `the edge read ${read} bytes from nats-server for ${RESUMES} resumes (one page: ${page})`,
  );
  const published = range(RESUMES / 3).map((k) => (k - 1) * 3);
  const received = await bystander.waitForMessages("hostile.bystander", published.length);
  t.deepEqual(
    received.map((m) => m.data),
    published,
  );
  t.is(chainProblem(received, watching.seq), undefined);
  t.is(attacker.closed, undefined, "the attacker stayed within its limits");
});
