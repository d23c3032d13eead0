// A reconnect storm: 2,000 clients on 50 topics resume at once on a fresh edge. Every client gets
// exactly the messages after its position, and JetStream sees about one range read per topic
// (the hub's single-flight), read from the edge's /metrics.
import test from "ava";
import type { FromPosition } from "../../protocol/index.js";
import { startNats } from "../harness/nats-server.js";
import { ResumingSubscriber, RetryingPublisher, spawnNatsEdge, verdict } from "./fault-kit.js";
import { TEST_API_KEY } from "../harness/tokens.js";
import { history } from "../harness/http.js";
import { scrape } from "../harness/metrics-doc.js";

const TOPICS = 50;
const CLIENTS = 2000;

/** Sum of herald_backend_reads_total by kind. */
async function backendReads(url: string): Promise<Record<string, number>> {
  const reads: Record<string, number> = {};
  for (const [name, value] of await scrape(url)) {
    const kind = /^herald_backend_reads_total\{kind="([^"]+)"\}$/.exec(name)?.[1];
    if (kind !== undefined) reads[kind] = value;
  }
  return reads;
}

test("a reconnect storm of 2,000 clients costs JetStream about one read per topic", async (t) => {
  const nats = await startNats(t);
  const publishEdge = await spawnNatsEdge(t, nats.url);
  const topics = Array.from({ length: TOPICS }, (_, i) => `fault6.topic-${i}`);
  const publisher = new RetryingPublisher(() => publishEdge.url);
  for (let i = 0; i < 4; i++) for (const topic of topics) await publisher.publish(topic, `${topic}#${i}`);
  const { epoch } = await history(publishEdge.url, topics[0]!, { bearer: TEST_API_KEY });

  // The clients were all at the topic's second message when their edge died.
  const freshEdge = await spawnNatsEdge(t, nats.url, { HERALD_MAX_PENDING_UPGRADES: String(CLIENTS * 2) });
  const subscribers = Array.from({ length: CLIENTS }, (_, i) => {
    const topic = topics[i % TOPICS]!;
    const position: FromPosition = { epoch, seq: publisher.seqs.get(topic)![1]! };
    return new ResumingSubscriber({
      urls: () => [freshEdge.wsUrl],
      topics: [topic],
      positions: new Map([[topic, position]]),
    });
  });
  t.teardown(() => subscribers.forEach((s) => s.stop()));
  // Resumes delivered what came after the position: the verdict compares from the third message.
  for (const [topic, data] of publisher.published) publisher.published.set(topic, data.slice(2));
  await Promise.all(subscribers.map((s) => s.start()));
  for (const topic of topics) await publisher.publish(topic, `${topic}#live`);

  t.deepEqual(await verdict(publisher, subscribers), []);
  const reads = await backendReads(freshEdge.metricsUrl);
  t.log("JetStream reads on the fresh edge by kind:", JSON.stringify(reads));
  const rangeReads = (reads.resume ?? 0) + (reads.backfill ?? 0);
  t.true(rangeReads <= TOPICS, `range reads ${rangeReads} for ${TOPICS} topics (${JSON.stringify(reads)})`);
});
