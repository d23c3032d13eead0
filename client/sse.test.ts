// The SDK over Server-Sent Events, against real edges (embedded backend, in this process) behind an
// HTTP proxy that can refuse WebSocket upgrades or cut every connection: the SSE transport on its
// own, the fallback the client makes by itself when upgrades are refused, and a switch of transport
// in the middle of a stream — every message once, in order, whatever the transport.
import test, { type ExecutionContext } from "ava";
import { startHttpProxy } from "../e2e/harness/http-proxy.js";
import { startTcpProxy } from "../e2e/harness/tcp-proxy.js";
import { publish, range } from "../e2e/harness/http.js";
import { startTestEdge } from "../e2e/harness/test-edge.js";
import { signToken, TEST_API_KEY, TEST_EDGE_ENV } from "../e2e/harness/tokens.js";
import { sleep, waitFor } from "../e2e/harness/wait.js";
import type { RunningEdge } from "../edge/server.js";
import {
  HeraldClient,
  type ClientState,
  type HeraldClientOptions,
  type HeraldMessage,
  type StateChange,
} from "./node.js";

function newClient(t: ExecutionContext, options: HeraldClientOptions) {
  const client = new HeraldClient({ backoff: { initialMs: 50, maxMs: 500 }, ...options });
  const states: ClientState[] = [client.state];
  client.on("state", (state) => states.push(state));
  t.teardown(() => client.close());
  return { client, states };
}

function received(client: HeraldClient, topic: string) {
  const values: number[] = [];
  const messages: HeraldMessage<{ n: number }>[] = [];
  const sub = client.subscribe<{ n: number }>(topic, (message) => {
    messages.push(message);
    values.push(message.data.n);
  });
  return { sub, values, messages };
}

async function publishRange(edge: RunningEdge, topic: string, numbers: number[]): Promise<void> {
  for (const n of numbers) await publish(edge.url, { topic, data: { n } }, TEST_API_KEY);
}

test("over SSE only: two topics, a publish with msgId, a cut connection and token refreshes lose nothing", async (t) => {
  const edge = await startTestEdge(t, { ...TEST_EDGE_ENV, HERALD_ALLOW_ANONYMOUS: "false" });
  const proxy = await startHttpProxy(t, { port: edge.port });
  let issued = 0;
  const { client } = newClient(t, {
    url: proxy.url,
    transports: ["sse"],
    token: () => {
      issued++;
      return signToken({ expiresIn: 6, publish: ["sse.>"] });
    },
  });
  const a = received(client, "sse.a");
  const b = received(client, "sse.b");
  await Promise.all([a.sub.ready(), b.sub.ready()]);
  t.is(client.transport, "sse");

  const first = await client.publish("sse.a", { n: 1 }, { msgId: "sse-a-1" });
  t.false(first.dup);
  t.true(
    (await client.publish("sse.a", { n: 1 }, { msgId: "sse-a-1" })).dup,
    "the msgId dedupes over HTTP too",
  );
  await publishRange(edge, "sse.b", range(5));
  await waitFor("a: 1, b: 1..5", () => a.values.length === 1 && b.values.length === 5);

  proxy.cutAll();
  // Published while the stream is down: they come on the next stream, from the positions.
  await publishRange(edge, "sse.a", range(4, 2));
  await waitFor("a: 1..5 after the cut", () => a.values.length >= 5);
  // Outlive two tokens: each refresh opens a new stream with the new token, from the positions.
  let n = 5;
  while (issued < 4) {
    await publishRange(edge, "sse.b", [++n]);
    await sleep(100);
  }
  await waitFor(`b: 1..${n}`, () => b.values.length >= n);
  t.deepEqual(a.values, range(5));
  t.deepEqual(b.values, range(n));
  for (const { messages } of [a, b])
    for (let i = 1; i < messages.length; i++) t.is(messages[i]!.prev, messages[i - 1]!.seq);
  t.is(proxy.upgrades().seen, 0, "no WebSocket was tried");
});

test("a proxy that refuses WebSocket upgrades: the client falls back to SSE by itself and loses nothing", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const proxy = await startHttpProxy(t, { port: edge.port });
  proxy.refuseUpgrades(true);
  const { client, states } = newClient(t, { url: proxy.url });
  const opened: StateChange[] = [];
  client.on("state", (state, change) => state === "open" && opened.push(change));
  const { sub, values } = received(client, "fallback.a");
  await sub.ready();
  t.is(client.transport, "sse");
  t.like(opened, [{ previous: "connecting", transport: "sse" }]);
  const { refused } = proxy.upgrades();
  t.true(refused >= 2 && refused <= 4, `${refused} refused upgrades, then SSE`);
  await publishRange(edge, "fallback.a", range(10));
  await waitFor("10 messages", () => values.length === 10);
  t.deepEqual(values, range(10));
  t.deepEqual(states, ["connecting", "open"]);
});

test('the fallback is configurable: transports ["websocket"] never uses SSE; fallbackAfter sets how many refusals come first', async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const proxy = await startHttpProxy(t, { port: edge.port });
  proxy.refuseUpgrades(true);
  const { client, states } = newClient(t, { url: proxy.url, transports: ["websocket"] });
  await waitFor("several refused upgrades", () => proxy.upgrades().refused >= 4, 10_000);
  t.is(proxy.requests("/v1/sse"), 0, "no event stream was opened");
  t.not(client.transport, "sse");
  t.false(states.includes("open"));
  client.close();

  const later = await startHttpProxy(t, { port: edge.port });
  later.refuseUpgrades(true);
  const patient = newClient(t, { url: later.url, fallbackAfter: 4 });
  const { sub, values } = received(patient.client, "fallback.after");
  await sub.ready();
  t.is(patient.client.transport, "sse");
  t.true(later.requests("/v1/sse") >= 1, "the proxy counts event streams");
  const { refused } = later.upgrades();
  t.true(refused >= 4 && refused <= 6, `${refused} refused upgrades, then SSE`);
  await publishRange(edge, "fallback.after", range(3));
  await waitFor("3 messages", () => values.length === 3);
  t.deepEqual(values, range(3));
});

test("the transport changes in the middle of a stream (upgrades start being refused): every message once, in order", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const proxy = await startHttpProxy(t, { port: edge.port });
  const { client } = newClient(t, { url: proxy.url });
  const { sub, values, messages } = received(client, "switch.a");
  await sub.ready();
  t.is(client.transport, "websocket");
  const total = 60;
  const publishing = (async () => {
    for (const n of range(total)) {
      await publishRange(edge, "switch.a", [n]);
      await sleep(10);
    }
  })();
  await waitFor("a third of the stream", () => values.length >= total / 3);
  proxy.refuseUpgrades(true);
  proxy.cutAll();
  await publishing;
  await waitFor(`${total} messages`, () => values.length >= total);
  t.is(client.transport, "sse");
  t.deepEqual(values, range(total));
  for (let i = 1; i < messages.length; i++) t.is(messages[i]!.prev, messages[i - 1]!.seq);
});

test("an edge that is down for a while and comes back does not move the client to SSE", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const network = await startTcpProxy(t, { port: edge.port });
  const { client } = newClient(t, { url: `http://127.0.0.1:${network.port}` });
  const { sub, values } = received(client, "down.a");
  await sub.ready();
  network.cut();
  await waitFor("reconnecting", () => client.state === "reconnecting");
  // Many failed attempts: none counts towards the fallback, the edge does not answer /readyz either.
  await sleep(2_000);
  network.restore();
  await publishRange(edge, "down.a", [1]);
  await waitFor("back", () => values.length === 1, 30_000);
  t.is(client.transport, "websocket");
});
