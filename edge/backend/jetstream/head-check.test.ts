// Head checks against a real nats-server: each check reads at most MAX_TOPICS_PER_CHECK heads,
// round-robin over the subscribed topics, and tells each feed its topic's stored head.
import test from "ava";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startNats } from "../../../e2e/harness/nats-server.js";
import { ConcurrencyLimit } from "./concurrency.js";
import { HeadChecker, MAX_TOPICS_PER_CHECK, type CheckedFeed } from "./head-check.js";
import { StreamReader } from "./reader.js";
import { storedSubject } from "../../../shared/stream-config.js";
import { startBackend } from "../../../e2e/harness/jetstream-support.js";

test("a head check reads at most MAX_TOPICS_PER_CHECK heads, round-robin, and reports each stored head", async (t) => {
  const nats = await startNats(t);
  const { metrics } = await startBackend(t, nats.url); // creates the stream
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const reader = new StreamReader(
    () => jsm,
    () => js,
    "HERALD",
    "herald",
  );

  const topicCount = MAX_TOPICS_PER_CHECK + 200;
  const seqs = new Map<string, number>();
  const topics = Array.from({ length: topicCount }, (_, i) => `heads.topic-${i}`);
  for (let i = 0; i < topics.length; i += 100) {
    await Promise.all(
      topics
        .slice(i, i + 100)
        .map(async (topic) => seqs.set(topic, (await js.publish(storedSubject("herald", topic), "{}")).seq)),
    );
  }
  const noted = new Map<string, number[]>();
  const feeds: CheckedFeed[] = topics.map((topic) => ({
    topic,
    noteStoredHead: (seq) => noted.set(topic, [...(noted.get(topic) ?? []), seq]),
  }));
  const checker = new HeadChecker(() => feeds, reader, metrics, new ConcurrencyLimit(8), 0);

  await checker.checkNext();
  t.is(noted.size, MAX_TOPICS_PER_CHECK);
  t.true(topics.slice(0, MAX_TOPICS_PER_CHECK).every((topic) => noted.get(topic)?.[0] === seqs.get(topic)));
  // The next check goes on with the topics not checked yet, then wraps around.
  await checker.checkNext();
  t.true(topics.every((topic) => noted.get(topic)?.at(-1) === seqs.get(topic)));
  const counts = topics.map((topic) => noted.get(topic)!.length);
  // Second check: the last 200, then the first MAX - 200 again.
  t.deepEqual(
    counts,
    topics.map((_, i) => (i < MAX_TOPICS_PER_CHECK - 200 ? 2 : 1)),
  );
  const reads = (await metrics.backendReads.get()).values.find((v) => v.labels.kind === "head-check")?.value;
  t.is(reads, 2 * MAX_TOPICS_PER_CHECK);
});

test("at most `max` tasks run at once, and every task runs", async (t) => {
  const limit = new ConcurrencyLimit(3);
  let active = 0;
  let peak = 0;
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      limit.run(async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((resolve) => setImmediate(resolve));
        active--;
        return i;
      }),
    ),
  );
  t.deepEqual(
    results,
    Array.from({ length: 20 }, (_, i) => i),
  );
  t.is(peak, 3);
});
