// The edge's counters by exact count, for traffic whose every step is known: a scrape of /metrics
// before and after shows each one move by exactly what docs/operations.md says moves it (not merely
// "rose"), and the log has the 4009 and 4008 closes at info with their session and reason.
import test from "ava";
import { loadConfig } from "../../shared/config.js";
import { createLogger } from "../../shared/log.js";
import { startEdge } from "../../edge/server.js";
import { publish } from "../harness/http.js";
import { scrape } from "../harness/metrics-doc.js";
import { waitFor } from "../harness/wait.js";
import { TestClients } from "../harness/ws-client.js";

const KEY = "metrics-exact-test-key-0123456789";
const TOPIC = "exact.live";

interface Line {
  level: string;
  event: string;
  session?: string;
  code?: number;
  reason?: string;
  [field: string]: unknown;
}

test("every edge counter moves by exactly what its traffic is; 4008 and 4009 closes are logged at info", async (t) => {
  t.timeout(120_000);
  const lines: string[] = [];
  const config = loadConfig({
    HERALD_PORT: "0",
    HERALD_METRICS_PORT: "0",
    HERALD_HOST: "127.0.0.1",
    HERALD_API_KEYS: KEY,
    HERALD_CACHE_PER_TOPIC: "2",
    HERALD_MAX_SUBSCRIPTIONS: "2",
    HERALD_SEND_BUFFER_BYTES: String(256 * 1024),
    HERALD_MAX_FRAME_BYTES: String(64 * 1024),
  });
  const edge = await startEdge(config, { log: createLogger("info", { write: (line) => lines.push(line) }) });
  t.teardown(() => edge.close());
  const clients = new TestClients(t, edge.wsUrl);
  const connect = () => clients.open();

  // Every scrape is itself a request on the internal port, counted once it is answered.
  let scrapes = 0;
  const read = () => {
    scrapes++;
    return scrape(edge.metricsUrl);
  };
  const before = await read();
  const delta = (after: Map<string, number>, series: string, from = before) =>
    (after.get(series) ?? 0) - (from.get(series) ?? 0);

  // Two live subscribers; three messages over HTTP (one batch), the batch's msgId again (a
  // duplicate: acknowledged, not stored), one over the WebSocket.
  const a = await connect();
  const b = await connect();
  const subok = (await a.subscribe(TOPIC)) as { epoch: string };
  await b.subscribe(TOPIC);
  const seqs = (
    await publish(
      edge.url,
      [
        { topic: TOPIC, data: 1, msgId: "exact-1" },
        { topic: TOPIC, data: 2 },
        { topic: TOPIC, data: 3 },
      ],
      KEY,
    )
  ).map((r) => r.seq);
  t.like(await publish(edge.url, { topic: TOPIC, data: 1, msgId: "exact-1" }, KEY), { dup: true });
  t.like(await a.request({ op: "pub", topic: TOPIC, data: 4, id: "p" }), { op: "ack" });
  seqs.push((a.frames.find((f) => f.op === "ack" && f.id === "p") as { seq: number }).seq);
  await a.waitForMessages(TOPIC, 4);
  await b.waitForMessages(TOPIC, 4);

  // Resumes: from the ring (it holds the last 2), from the log, from another epoch.
  const c = await connect();
  t.like(await c.subscribe(TOPIC, { epoch: subok.epoch, seq: seqs[2] }), { recovered: true });
  const d = await connect();
  t.like(await d.subscribe(TOPIC, { epoch: subok.epoch, seq: seqs[0] }), { recovered: true });
  const e = await connect();
  t.like(await e.subscribe(TOPIC, { epoch: "another-epoch", seq: 1 }), { recovered: false });
  await c.waitForMessages(TOPIC, 1);
  await d.waitForMessages(TOPIC, 3);

  // A frame that is not JSON, and a third subscription over the limit of two: both close.
  const rude = await connect();
  rude.send("not json");
  const rudeClose = await rude.waitForClose();
  const greedy = await connect();
  await greedy.subscribe("exact.one");
  await greedy.subscribe("exact.two");
  greedy.send({ op: "sub", topic: "exact.three", id: 3 });
  t.like(await greedy.waitForClose(), { code: 4009 });

  // An SSE stream counts as a connection too, while it is open.
  const sse = new AbortController();
  const stream = await fetch(`${edge.url}/v1/sse?topic=exact.sse`, { signal: sse.signal });
  t.is(stream.status, 200);
  await waitFor("the SSE stream counted", async () => (await read()).get("herald_connections") === 6);
  sse.abort();
  await waitFor("the SSE stream gone", async () => (await read()).get("herald_connections") === 5);

  // HTTP: an unknown path on each port, and the admin endpoint without a key.
  t.is((await fetch(`${edge.url}/no/such/path`)).status, 404);
  t.is((await fetch(`${edge.metricsUrl}/no/such/path`)).status, 404);
  t.is((await fetch(`${edge.metricsUrl}/v1/admin/stats`)).status, 401);

  const scrapesBefore = scrapes;
  const mid = await read();
  const exact: [string, number][] = [
    // a, b, c, d, e, rude, greedy and the SSE stream.
    ["herald_connections_opened_total", 8],
    ["herald_connections", 5],
    ['herald_messages_in_total{via="http"}', 3],
    ['herald_messages_in_total{via="ws"}', 1],
    // Each publish the log acknowledged, the duplicate included.
    ["herald_publish_seconds_count", 5],
    // Four live messages to two subscribers, and the replays: 1 message to c, 3 to d.
    ["herald_deliveries_total", 12],
    // Once per live message on this edge, however many subscribers (replays are not live).
    ["herald_delivery_lag_seconds_count", 4],
    ['herald_resumes_total{recovered="true"}', 2],
    ['herald_resumes_total{recovered="false"}', 1],
    ["herald_ring_hits_total", 1],
    ["herald_ring_misses_total", 1],
    ['herald_backend_reads_total{kind="resume"}', 1],
    [`herald_closes_total{code="${rudeClose.code}"}`, 1],
    ['herald_closes_total{code="4009"}', 1],
    ['herald_rejected_frames_total{code="invalid_frame"}', 1],
    ['herald_http_requests_total{method="POST",route="/v1/publish",status="200"}', 2],
    ['herald_http_requests_total{method="GET",route="unmatched",status="404"}', 2],
    ['herald_http_requests_total{method="GET",route="/v1/admin/stats",status="401"}', 1],
    ['herald_http_requests_total{method="GET",route="/v1/sse",status="200"}', 1],
    ["herald_gap_repairs_total", 0],
    ["herald_publish_errors_total", 0],
  ];
  for (const [series, expected] of exact) {
    const moved = series === "herald_connections" ? (mid.get(series) ?? 0) : delta(mid, series);
    t.is(moved, expected, series);
  }
  t.is(
    delta(mid, 'herald_http_requests_total{method="GET",route="/metrics",status="200"}'),
    scrapesBefore,
    "every scrape before this one (the first included), on the internal port",
  );

  // A subscriber that stops reading: its send buffer fills and it is closed with 4008, once.
  const stalled = await connect();
  await stalled.subscribe("exact.flood");
  stalled.ws.pause();
  const big = "x".repeat(60 * 1024);
  for (let batch = 0; batch < 200 && !lines.some((l) => l.includes('"code":4008')); batch++)
    await publish(
      edge.url,
      Array.from({ length: 16 }, (_, n) => ({ topic: "exact.flood", data: `${big}${n}` })),
      KEY,
    );
  const after = await read();
  t.is(delta(after, 'herald_closes_total{code="4008"}', mid), 1);
  t.is(delta(after, "herald_connections_opened_total", mid), 1);

  const parsed = lines.map((line) => JSON.parse(line) as Line);
  const closeLine = (code: number) => parsed.find((l) => l.event === "session_close" && l.code === code);
  for (const code of [4008, 4009]) {
    const line = closeLine(code);
    t.truthy(line, `a session_close line for ${code}`);
    t.is(line?.level, "info", `${code} is logged at info`);
    t.true((line?.session ?? "").length > 0, `${code}'s line carries the session`);
    t.true((line?.reason ?? "").length > 0, `${code}'s line says why`);
  }
  t.regex(closeLine(4009)!.reason!, /more than 2 subscriptions/);
  t.regex(closeLine(4008)!.reason!, /send buffer/);
  // The SSE stream the client closed has its access line (fastify's own hook never sees it).
  t.like(
    parsed.find((l) => l.event === "http_request" && l.route === "/v1/sse"),
    { level: "info", status: 200, aborted: true, path: "/v1/sse" },
  );
});
