// Every metric docs/operations.md lists for the edges, scraped from a real edge process on a real
// nats-server before and after traffic that exercises each one: every counter and histogram rises
// (each listed label value too), every gauge reads what the table says, and the edge exposes no
// herald_* metric the table leaves out. The edge reads NATS through a proxy that can drop chosen
// messages (to lose a live copy, to let JetStream requests time out) and cut the connection.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect as connectNats } from "@nats-io/transport-node";
import test from "ava";
import { publish, history } from "../harness/http.js";
import {
  checkDocumented,
  documentedMetrics,
  exposedNames,
  scrape,
  seriesOf,
  undocumentedNames,
  type DocumentedMetric,
} from "../harness/metrics-doc.js";
import { startNats } from "../harness/nats-server.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";
import { TEST_API_KEY } from "../harness/tokens.js";
import { waitFor } from "../harness/wait.js";
import { TestClient, TestClients } from "../harness/ws-client.js";
import { spawnNatsEdge } from "./fault-kit.js";

const CACHE = 3;
const TOPIC = "doc.metrics";
const MEMORY_BUDGET = 1024 * 1024;

test("every documented edge metric moves as docs/operations.md says, and none is undocumented", async (t) => {
  t.timeout(150_000);
  const documented = documentedMetrics("Edge metrics");
  const nats = await startNats(t);
  const proxy = await startTcpProxy(t, { port: nats.port }, { inspectMessages: true });
  const edge = await spawnNatsEdge(t, proxy.url, {
    HERALD_API_KEYS: TEST_API_KEY,
    HERALD_ANONYMOUS_PUBLISH: "true",
    HERALD_CACHE_PER_TOPIC: String(CACHE),
    HERALD_HEAD_CHECK_SECONDS: "1",
    // The smallest memory budget: a few topics of large messages make the rings give up some.
    HERALD_MEMORY_BUDGET_BYTES: String(MEMORY_BUDGET),
  });
  const before = await scrape(edge.metricsUrl);
  const clients = new TestClients(t, edge.wsUrl);
  const connect = () => clients.open();

  // Live traffic: HTTP and WebSocket publishes to a live subscriber.
  const live = await connect();
  const subok = (await live.subscribe(TOPIC)) as { epoch: string };
  const seqs: number[] = [];
  for (let n = 0; n < 6; n++)
    seqs.push((await publish(edge.url, { topic: TOPIC, data: n }, TEST_API_KEY)).seq);
  t.like(await live.request({ op: "pub", topic: TOPIC, data: "ws", id: "p" }), { op: "ack" });
  await live.waitForMessages(TOPIC, 7);

  // Resumes: from the ring, from the log, from another epoch; a ring filled from the log.
  const resume = async (from: object) => (await connect()).subscribe(TOPIC, from);
  t.like(await resume({ epoch: subok.epoch, seq: seqs[5] }), { recovered: true });
  t.like(await resume({ epoch: subok.epoch, seq: seqs[0] }), { recovered: true });
  t.like(await resume({ epoch: "another-epoch", seq: 1 }), { recovered: false });
  await publish(
    edge.url,
    [1, 2].map((n) => ({ topic: "doc.backfill", data: n })),
    TEST_API_KEY,
  );
  await live.subscribe("doc.backfill", { last: 2 });
  await history(edge.url, TOPIC, { after: 0, bearer: TEST_API_KEY });
  // More than the memory budget's worth of messages in the rings: the largest gives up its oldest.
  const hoarder = await TestClient.ready(edge.wsUrl);
  const large = "m".repeat(60 * 1024);
  for (let i = 0; i < 10; i++) {
    await hoarder.subscribe(`doc.memory-${i}`);
    await publish(
      edge.url,
      [1, 2, 3].map((n) => ({ topic: `doc.memory-${i}`, data: `${large}${n}` })),
      TEST_API_KEY,
    );
  }
  await waitFor("30 large messages", () => hoarder.frames.filter((f) => f.op === "msg").length === 30);
  hoarder.close();
  await waitFor("its topics let go", async () => (await scrape(edge.metricsUrl)).get("herald_topics") === 2);
  // A refused frame, and the close it earns.
  const rude = await connect();
  rude.send("not json");
  await rude.waitForClose();

  // A lost live copy: the next message reveals the gap, which is read from the log.
  proxy.dropMessages((subject) => subject === `herald.live.${TOPIC}`);
  await publish(edge.url, { topic: TOPIC, data: "lost" }, TEST_API_KEY);
  await waitFor("the live copy to be dropped", () => proxy.dropped() === 1);
  proxy.dropMessages(undefined);
  await publish(edge.url, { topic: TOPIC, data: "after" }, TEST_API_KEY);
  await live.waitForMessages(TOPIC, 9);

  // JetStream answers nothing for a while: a publish, a read and a new feed time out.
  proxy.dropMessages((subject) => subject.startsWith("_INBOX."));
  const [published, read, subscribed] = await Promise.all([
    fetch(`${edge.url}/v1/publish`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_API_KEY}` },
      body: JSON.stringify({ topic: TOPIC, data: "timeout" }),
    }),
    fetch(`${edge.url}/v1/topics/doc.cold/messages?after=0`, {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    }),
    live.request({ op: "sub", topic: "doc.new", id: "cold" }, 30_000),
  ]);
  t.is(published.status, 503);
  t.is(read.status, 503);
  t.like(subscribed, { op: "err", code: "unavailable" });
  proxy.dropMessages(undefined);
  const up = async () => (await scrape(edge.metricsUrl)).get("herald_backend_up") === 1;
  await waitFor("the backend to be usable again", up, 60_000);

  // NATS cut off, then back.
  proxy.cut();
  const during = await waitFor(
    "the edge to notice NATS is gone",
    async () => {
      const samples = await scrape(edge.metricsUrl);
      return samples.get("herald_nats_connected") === 0 ? samples : undefined;
    },
    30_000,
  );
  proxy.restore();
  await waitFor("NATS reconnected", up, 60_000);
  await waitFor(
    "a head check",
    async () =>
      ((await scrape(edge.metricsUrl)).get('herald_backend_reads_total{kind="head-check"}') ?? 0) > 0,
  );
  // Last, a log that refuses publishes: the stream is sealed (for good) behind the edge's back.
  const nc = await connectNats({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  const { config } = await jsm.streams.info("HERALD");
  // nats.js leaves `sealed` out of its update type; the server takes it.
  await jsm.streams.update("HERALD", { ...config, sealed: true } as Parameters<typeof jsm.streams.update>[1]);
  await nc.close();
  const refused = await fetch(`${edge.url}/v1/publish`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TEST_API_KEY}` },
    body: JSON.stringify({ topic: TOPIC, data: "sealed" }),
  });
  t.is(refused.status, 500);
  const after = await scrape(edge.metricsUrl);

  // The gauges, as the table describes them.
  const limits: Record<string, number> = {
    max_connections: 100000,
    max_subscriptions: 200,
    max_frame_bytes: 65536,
    send_buffer_bytes: 1048576,
    frames_per_second: 100,
    publishes_per_second: 50,
    cache_per_topic: CACHE,
    history_limit: 1000,
    max_pending_upgrades: 1000,
  };
  const open = clients.all.filter((c) => !c.closed).length;
  const gauges: Record<string, () => void> = {
    herald_connections: () => t.is(after.get("herald_connections"), open),
    // live: doc.metrics and doc.backfill; three resumers: doc.metrics.
    herald_subscriptions: () => t.is(after.get("herald_subscriptions"), 5),
    herald_topics: () => t.is(after.get("herald_topics"), 2),
    herald_backend_up: () => {
      t.is(before.get("herald_backend_up"), 1);
      t.is(during.get("herald_backend_up"), 0, "0 while NATS is cut off");
      t.is(after.get("herald_backend_up"), 1);
    },
    herald_ready: () => {
      t.is(before.get("herald_ready"), 1);
      t.is(during.get("herald_ready"), 0, "unready while NATS is cut off");
      t.is(after.get("herald_ready"), 1);
    },
    herald_nats_connected: () => {
      t.is(before.get("herald_nats_connected"), 1);
      t.is(during.get("herald_nats_connected"), 0);
      t.is(after.get("herald_nats_connected"), 1);
    },
    herald_memory_limit_bytes: () => t.is(after.get("herald_memory_limit_bytes"), MEMORY_BUDGET),
    herald_memory_used_bytes: () => {
      const uses = ["ring", "handover", "replay", "history", "feed", "held"];
      const used = uses.map((use) => after.get(`herald_memory_used_bytes{use="${use}"}`));
      t.true(
        used.every((bytes) => bytes !== undefined && bytes >= 0),
        "every use is reported",
      );
      t.true(used[0]! > 0, "the rings of the topics still subscribed hold their messages");
      t.true(used.reduce((a, b) => a! + b!, 0)! <= MEMORY_BUDGET, "within the budget");
    },
    herald_limit: () => {
      for (const [limit, value] of Object.entries(limits))
        t.is(after.get(`herald_limit{limit="${limit}"}`), value, limit);
    },
  };

  const names = exposedNames(after);
  checkDocumented(t, documented, after, gauges, (metric) => {
    for (const [labels, rose] of risen(before, after, metric)) t.true(rose, `${metric.name}${labels} rose`);
  });
  const undocumented = undocumentedNames(names, documented, /^herald_/);
  t.deepEqual(undocumented, [], "every herald_* metric is in docs/operations.md");
  t.is(
    after.get("herald_publish_seconds_count"),
    after.get('herald_messages_in_total{via="http"}')! + after.get('herald_messages_in_total{via="ws"}')!,
    "one observation per stored publish",
  );
});

/** For a counter or histogram: whether it rose, overall and for each label value the table lists. */
function risen(
  before: Map<string, number>,
  after: Map<string, number>,
  metric: DocumentedMetric,
): [string, boolean][] {
  const sum = (samples: Map<string, number>, filter: Record<string, string>) =>
    seriesOf(samples, metric)
      .filter(({ labels }) => Object.entries(filter).every(([k, v]) => labels[k] === v))
      .reduce((total, { value }) => total + value, 0);
  const checks: [string, boolean][] = [["", sum(after, {}) > sum(before, {})]];
  for (const [label, values] of metric.values)
    for (const value of values)
      checks.push([
        `{${label}="${value}"}`,
        sum(after, { [label]: value }) > sum(before, { [label]: value }),
      ]);
  return checks;
}
