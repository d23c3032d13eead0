// Observability: an operator reads publish latency, ring hits and misses, gap repairs and
// reads from JetStream on an edge's /metrics. Publishes and resumes run against a real nats-server
// and a real edge process; the resumes also check that each subscriber gets its messages once, in order.
import test from "ava";
import { startNats } from "../harness/nats-server.js";
import {
  RetryingPublisher,
  spawnNatsEdge,
  startSubscriber,
  verdict,
  waitUntil,
  type ResumingSubscriber,
} from "./fault-kit.js";
import { scrape } from "../harness/metrics-doc.js";

const TOPIC = "metrics.topic";
const PUBLISHES = 20;
// A small ring (the last 5 messages), so one resume is served from it and one needs JetStream.
const CACHE_PER_TOPIC = 5;

test("/metrics counts publishes (herald_publish_seconds), ring hits and misses, gap repairs and JetStream reads", async (t) => {
  const nats = await startNats(t);
  const edge = await spawnNatsEdge(t, nats.url, { HERALD_CACHE_PER_TOPIC: String(CACHE_PER_TOPIC) });
  // A live subscriber keeps the topic's feed and ring on the edge while the others resume.
  const live = await startSubscriber(t, { urls: () => [edge.wsUrl], topics: [TOPIC] });

  const publisher = new RetryingPublisher(() => edge.url);
  for (let i = 0; i < PUBLISHES; i++) await publisher.publish(TOPIC, `${TOPIC}#${i}`);
  t.deepEqual(await verdict(publisher, [live]), []);

  const epoch = live.positions.get(TOPIC)!.epoch;
  const seqs = publisher.seqs.get(TOPIC)!;
  const published = publisher.published.get(TOPIC)!;
  const resumeAfter = (index: number) =>
    startSubscriber(t, {
      urls: () => [edge.wsUrl],
      topics: [TOPIC],
      positions: new Map([[TOPIC, { epoch, seq: seqs[index]! }]]),
    });
  const expectTail = async (subscriber: ResumingSubscriber, index: number, label: string) => {
    const expected = published.slice(index + 1);
    await waitUntil(
      `${label} to receive the ${expected.length} messages after its position`,
      () => (subscriber.received.get(TOPIC)?.length ?? 0) >= expected.length,
    );
    t.deepEqual(
      subscriber.received.get(TOPIC),
      expected,
      `${label}: every message after its position once, in order`,
    );
    t.deepEqual(subscriber.problems, [], label);
  };
  const counted = async (series: string) => (await scrape(edge.metricsUrl)).get(series) ?? 0;
  const before = {
    hits: await counted("herald_ring_hits_total"),
    misses: await counted("herald_ring_misses_total"),
  };
  const recent = await resumeAfter(PUBLISHES - 3); // inside the ring
  await expectTail(recent, PUBLISHES - 3, "resume from a recent position");
  t.is(await counted("herald_ring_hits_total"), before.hits + 1, "the recent resume is a ring hit");
  t.is(await counted("herald_ring_misses_total"), before.misses, "the recent resume is no ring miss");
  const old = await resumeAfter(1); // before the ring: read from JetStream
  await expectTail(old, 1, "resume from an old position");
  t.is(await counted("herald_ring_misses_total"), before.misses + 1, "the old resume is a ring miss");

  const metrics = await scrape(edge.metricsUrl);
  // Exactly one observation per acknowledged publish (it used to be two on JetStream: the edge's
  // publisher and the backend's both observed it). No publish was retried in this run.
  t.is(publisher.retries, 0);
  t.is(
    metrics.get("herald_publish_seconds_count"),
    PUBLISHES,
    `${PUBLISHES} publishes were acknowledged, each observed once`,
  );
  t.true(
    (metrics.get('herald_backend_reads_total{kind="resume"}') ?? 0) >= 1,
    "the old resume's JetStream read counted",
  );
  // No gap in this run: the counter is exposed (at 0) so dashboards and alerts can use it.
  t.is(metrics.get("herald_gap_repairs_total"), 0);
});
