// The stream writer around a change of the R3 stream's leader (found by the guarantee checker, R3
// seeds 5001 and 5004): publishes of one topic are in flight, pipelined, when the leader is
// SIGKILLed (and comes back); every publish the caller saw fail is retried with its msgId, as a
// client would. What is stored must still be each message exactly once, with a prev chain that
// skips nothing (a publish whose outcome was unknown must not be taken for "not stored").
import test from "ava";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startNatsCluster } from "../../../e2e/harness/nats-server.js";
import { chainProblem, startBackend } from "../../../e2e/harness/jetstream-support.js";
import { sleep } from "../../../e2e/harness/wait.js";
import { BackendUnavailableError } from "../backend.js";
import { PREV_HEADER } from "./codec.js";
import { loadConfig } from "../../../shared/config.js";
import { storedSubject } from "../../../shared/stream-config.js";

const TOPICS = ["lc-a", "lc-b"];
const PER_TOPIC = 400;
/** Publishes of one topic the caller keeps outstanding at once (so that the writer pipelines). */
const WINDOW = 24;
const RETRY_DEADLINE_MS = 60_000;

test("leader SIGKILLed while one topic's publishes are pipelined: each msgId stored once, prev chain unbroken", async (t) => {
  const cluster = await startNatsCluster(t, 3);
  const { backend } = await startBackend(t, cluster.urls.join(","), { HERALD_STREAM_REPLICAS: "3" });
  const leader = await cluster.leaderOf(loadConfig({}).stream);
  let acked = 0;
  let retries = 0;
  const publishOne = async (topic: string, data: string) => {
    const deadline = Date.now() + RETRY_DEADLINE_MS;
    for (;;) {
      try {
        await backend.publish({ topic, data, msgId: data });
        acked++;
        return;
      } catch (err) {
        if (!(err instanceof BackendUnavailableError) || Date.now() > deadline) throw err;
        retries++;
        await sleep(50);
      }
    }
  };
  const publishTopic = async (topic: string) => {
    let next = 0;
    const worker = async () => {
      while (next < PER_TOPIC) await publishOne(topic, `${topic}/${next++}`);
    };
    await Promise.all(Array.from({ length: WINDOW }, worker));
  };
  const killer = (async () => {
    while (acked < 150) await sleep(5);
    await leader.stop("SIGKILL");
    await sleep(1500);
    await leader.restart();
  })();
  await Promise.all([...TOPICS.map(publishTopic), killer]);
  t.log(`publishes retried by the caller: ${retries}`);

  // Read every stored message (from any live node's leader, by seq), not through the edge's reads.
  const nc = await connect({ servers: cluster.urls });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const stream = loadConfig({}).stream;
  const prefix = loadConfig({}).subjectPrefix;
  const last = (await jsm.streams.info(stream)).state.last_seq;
  const stored = new Map<string, { seq: number; prev: number; data: string }[]>(TOPICS.map((x) => [x, []]));
  for (let seq = 1; seq <= last; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq });
    const topic = TOPICS.find((x) => storedSubject(prefix, x) === msg!.subject);
    // The rest are the claims of msgIds (an R3 stream: stream-writer.ts "Replicated streams").
    if (topic === undefined) {
      t.true(msg!.subject.startsWith(storedSubject(prefix, "$c.")), msg!.subject);
      continue;
    }
    stored.get(topic)!.push({ seq, prev: Number(msg!.header.get(PREV_HEADER)), data: msg!.string() });
  }
  for (const topic of TOPICS) {
    const messages = stored.get(topic)!;
    t.is(chainProblem(messages, 0), undefined, topic);
    const datas = messages.map((m) => m.data);
    const twice = datas.filter((d, i) => datas.indexOf(d) !== i);
    t.deepEqual(twice, [], `${topic}: msgIds stored twice`);
    t.deepEqual(
      [...new Set(datas)].sort(),
      Array.from({ length: PER_TOPIC }, (_, i) => `${topic}/${i}`).sort(),
      `${topic}: every msgId stored`,
    );
  }
});
