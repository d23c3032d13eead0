// The internal port (HERALD_METRICS_PORT): /metrics and GET /v1/admin/stats are served there and
// only there (the public port, which Services and Ingresses route, answers 404 for both); the
// admin endpoint wants an API key; the demo page is off unless asked for.
import test from "ava";
import { loadConfig } from "../../shared/config.js";
import { publish } from "../harness/http.js";
import { startTestEdge } from "../harness/test-edge.js";
import { TestClient } from "../harness/ws-client.js";

const KEY = "internal-port-test-key-0123456789";

test("the public port answers 404 for /metrics and /v1/admin/stats; the internal port serves both", async (t) => {
  const edge = await startTestEdge(t, { HERALD_API_KEYS: KEY });
  t.not(edge.metricsPort, edge.port);
  for (const path of ["/metrics", "/v1/admin/stats"]) {
    const answer = await fetch(`${edge.url}${path}`, { headers: { authorization: `Bearer ${KEY}` } });
    t.is(answer.status, 404, `public ${path}`);
    t.is(((await answer.json()) as { error: { code: string } }).error.code, "not_found");
  }
  const metrics = await fetch(`${edge.metricsUrl}/metrics`);
  t.is(metrics.status, 200);
  t.regex(await metrics.text(), /^herald_connections 0$/m);
  // The probes answer on both ports (the kubelet uses the public one).
  for (const url of [edge.url, edge.metricsUrl]) t.is((await fetch(`${url}/readyz`)).status, 200);
});

test("GET /v1/admin/stats: connections, subscriptions, topics, the busiest topics and the backend, for an API key", async (t) => {
  const edge = await startTestEdge(t, { HERALD_API_KEYS: KEY });
  const stats = (bearer?: string) =>
    fetch(`${edge.metricsUrl}/v1/admin/stats`, {
      headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` },
    });
  t.is((await stats()).status, 401);
  t.is((await stats("not-the-key")).status, 401);

  const clients = await Promise.all([0, 1, 2].map(() => TestClient.ready(edge.wsUrl)));
  t.teardown(() => clients.forEach((c) => c.close()));
  for (const client of clients) await client.subscribe("admin.busy");
  await clients[0]!.subscribe("admin.quiet");
  for (let n = 0; n < 5; n++) await publish(edge.url, { topic: "admin.quiet", data: n }, KEY);
  await clients[0]!.waitForMessages("admin.quiet", 5);

  const answer = await stats(KEY);
  t.is(answer.status, 200);
  const body = (await answer.json()) as {
    connections: number;
    subscriptions: number;
    topics: number;
    topTopicsBySubscribers: { topic: string; subscribers: number }[];
    topTopicsByRate: { topic: string; messagesPerSecond: number }[];
    backend: { kind: string; state: string };
  };
  t.is(body.connections, 3);
  t.is(body.subscriptions, 4);
  t.is(body.topics, 2);
  t.deepEqual(
    body.topTopicsBySubscribers.map((e) => [e.topic, e.subscribers]),
    [
      ["admin.busy", 3],
      ["admin.quiet", 1],
    ],
  );
  t.is(body.topTopicsByRate[0]!.topic, "admin.quiet");
  t.true(body.topTopicsByRate[0]!.messagesPerSecond > 0);
  t.deepEqual(body.backend.kind, "embedded");
  t.deepEqual(body.backend.state, "ready");
});

test("without HERALD_API_KEYS nobody reads the admin stats, and the answer says why", async (t) => {
  const edge = await startTestEdge(t);
  const answer = await fetch(`${edge.metricsUrl}/v1/admin/stats`, { headers: { authorization: "Bearer x" } });
  t.is(answer.status, 401);
  t.regex(JSON.stringify(await answer.json()), /HERALD_API_KEYS/);
});

test("the demo page: on by default only with the embedded backend, off when HERALD_DEMO=false", async (t) => {
  t.true(loadConfig({}).demo);
  t.false(loadConfig({ HERALD_NATS_URL: "nats://127.0.0.1:4222" }).demo);
  t.true(loadConfig({ HERALD_NATS_URL: "nats://127.0.0.1:4222", HERALD_DEMO: "true" }).demo);
  const on = await startTestEdge(t);
  t.is((await fetch(`${on.url}/`)).status, 200);
  const off = await startTestEdge(t, { HERALD_DEMO: "false" });
  for (const path of ["/", "/index.html", "/demo.js"])
    t.is((await fetch(`${off.url}${path}`)).status, 404, path);
  // The SDK bundle is not the demo: pages of any application load it from their edge.
  t.is((await fetch(`${off.url}/client.js`)).status, 200);
});
