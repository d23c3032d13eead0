// The life cycle an application drives: lazy connect, disconnect() and connect() again (logout, a
// hidden tab), ready(), state events with the close code and reason, `suspended` during a long
// outage, and each subscription's subscribing / subscribed / unsubscribed events — against real
// edges (in this process) through the WebSocket-aware proxy.
import test, { type ExecutionContext } from "ava";
import { publish, range } from "../e2e/harness/http.js";
import { startTestEdge } from "../e2e/harness/test-edge.js";
import { signToken, TEST_API_KEY, TEST_EDGE_ENV } from "../e2e/harness/tokens.js";
import { sleep, waitFor } from "../e2e/harness/wait.js";
import { startTcpProxy } from "../e2e/harness/tcp-proxy.js";
import { startWsProxy } from "../e2e/harness/ws-proxy.js";
import type { RunningEdge } from "../edge/server.js";
import {
  HeraldClient,
  memoryPositions,
  type ClientState,
  type HeraldClientOptions,
  type StateChange,
  type SubscribedContext,
  type Subscription,
} from "./node.js";

function newClient(t: ExecutionContext, options: HeraldClientOptions) {
  const client = new HeraldClient({ backoff: { initialMs: 50, maxMs: 500 }, ...options });
  const changes: StateChange[] = [];
  client.on("state", (_state, change) => changes.push(change));
  t.teardown(() => client.close());
  return { client, changes, states: () => changes.map((change) => change.state) };
}

function numbers(client: HeraldClient, topic: string) {
  const values: number[] = [];
  const sub = client.subscribe<{ n: number }>(topic, (message) => values.push(message.data.n));
  return { sub, values };
}

function subscriptionEvents(sub: Subscription<never> | Subscription<{ n: number }>): string[] {
  const events: string[] = [];
  sub.on("subscribing", ({ reason }) => events.push(`subscribing:${reason}`));
  sub.on("subscribed", ({ wasRecovering, recovered }) =>
    events.push(`subscribed:${wasRecovering ? "recovering" : "new"}:${recovered}`),
  );
  sub.on("unsubscribed", ({ reason }) => events.push(`unsubscribed:${reason}`));
  return events;
}

async function publishRange(edge: RunningEdge, topic: string, values: number[]): Promise<void> {
  for (const n of values) await publish(edge.url, { topic, data: { n } }, TEST_API_KEY);
}

test("autoConnect: false waits for connect(); subscriptions and publishes made before it go out then", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const proxy = await startWsProxy(t, { port: edge.port });
  const { client, states } = newClient(t, {
    url: proxy.wsUrl,
    autoConnect: false,
    token: () => signToken({ publish: ["lazy.>"] }),
  });
  const values: number[] = [];
  // From the last 10: the publish made before connect() may be stored before the subscription is.
  const sub = client.subscribe<{ n: number }>("lazy.a", { from: { last: 10 } }, (message) =>
    values.push(message.data.n),
  );
  const published = client.publish("lazy.a", { n: 1 }, { msgId: "lazy-1" });
  await sleep(300);
  t.is(client.state, "disconnected");
  t.is(proxy.connectionsAccepted(), 0);
  t.is(sub.state, "subscribing");

  const ready = client.ready();
  client.connect();
  await ready;
  t.is(client.state, "open");
  t.is(client.transport, "websocket");
  t.like(await published, { dup: false });
  await waitFor("the message published before connect()", () => values.length === 1);
  t.deepEqual(states(), ["connecting", "open"]);
});

test("disconnect() and connect(): nothing published meanwhile is lost, nothing is delivered twice", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const proxy = await startWsProxy(t, { port: edge.port });
  const { client, changes, states } = newClient(t, { url: proxy.wsUrl });
  const { sub, values } = numbers(client, "hidden.tab");
  const events = subscriptionEvents(sub);
  await sub.ready();
  await publishRange(edge, "hidden.tab", range(3));
  await waitFor("1..3", () => values.length === 3);

  client.disconnect();
  t.is(client.state, "disconnected");
  t.like(changes.at(-1), {
    state: "disconnected",
    previous: "open",
    code: 1000,
    reason: "client disconnected",
  });
  await publishRange(edge, "hidden.tab", range(3, 4));
  await sleep(200);
  t.is(values.length, 3, "nothing while disconnected");
  t.is(proxy.connectionsOpen(), 0);

  client.connect();
  await client.ready();
  await waitFor("1..6", () => values.length >= 6);
  t.deepEqual(values, range(6));
  t.deepEqual(states(), ["open", "disconnected", "connecting", "open"]);
  t.deepEqual(events, ["subscribed:new:false", "subscribing:connecting", "subscribed:recovering:true"]);
  t.is(await sub.ready(), undefined, "already subscribed");
});

test("state events carry the close code and reason; subscriptions say they are resubscribing and were recovered", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const proxy = await startWsProxy(t, { port: edge.port });
  const { client, changes } = newClient(t, { url: proxy.wsUrl });
  const { sub, values } = numbers(client, "codes.a");
  const contexts: SubscribedContext[] = [];
  sub.on("subscribed", (context) => contexts.push(context));
  const events = subscriptionEvents(sub);
  await sub.ready();
  await publishRange(edge, "codes.a", [1]);
  await waitFor("1", () => values.length === 1);

  proxy.closeClients(4009, "test: a limit");
  await waitFor("reconnected", () => contexts.length === 2);
  const lost = changes.find((change) => change.state === "reconnecting")!;
  t.like(lost, { previous: "open", code: 4009, reason: "test: a limit" });
  t.like(changes.at(-1), { state: "open", previous: "reconnecting", transport: "websocket" });
  t.deepEqual(events, ["subscribed:new:false", "subscribing:connecting", "subscribed:recovering:true"]);
  t.like(contexts[1], { topic: "codes.a", wasRecovering: true, recovered: true });
  // It resumed after message 1, where the first subscription started before it.
  t.true(contexts[1]!.position.seq > contexts[0]!.position.seq);

  sub.unsubscribe();
  t.is(sub.state, "unsubscribed");
  t.is(events.at(-1), "unsubscribed:unsubscribed");
});

test("a position that cannot be honoured: subscribed says wasRecovering and not recovered, then resync", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const proxy = await startWsProxy(t, { port: edge.port });
  const storage = memoryPositions([["gone.a", { epoch: "an-epoch-long-gone", seq: 7 }]]);
  const { client } = newClient(t, { url: proxy.wsUrl, storage });
  const { sub } = numbers(client, "gone.a");
  const order: string[] = [];
  sub.on("subscribed", ({ wasRecovering, recovered }) =>
    order.push(`subscribed ${wasRecovering} ${recovered}`),
  );
  sub.on("resync", () => order.push("resync"));
  await waitFor("resync", () => order.length === 2);
  t.deepEqual(order, ["subscribed true false", "resync"]);
});

test("a refused subscription is unsubscribed with the refusal; ready() of a closed client rejects", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const proxy = await startWsProxy(t, { port: edge.port });
  const { client, changes } = newClient(t, {
    url: proxy.wsUrl,
    token: () => signToken({ subscribe: ["allowed.>"] }),
  });
  const { sub } = numbers(client, "denied.a");
  const ended: string[] = [];
  sub.on("unsubscribed", ({ reason, error }) => ended.push(`${reason} ${error?.code}`));
  await t.throwsAsync(sub.ready(), { message: /subscription to denied\.a refused/ });
  t.deepEqual(ended, ["refused forbidden"]);
  const { sub: allowed } = numbers(client, "allowed.a");
  await allowed.ready();
  const closed: string[] = [];
  allowed.on("unsubscribed", ({ reason, error }) => closed.push(`${reason} ${error?.code}`));
  client.close();
  t.deepEqual(closed, ["closed undefined"]);
  t.is(allowed.state, "unsubscribed");
  t.like(changes.at(-1), { state: "closed" });
  await t.throwsAsync(client.ready(), { message: /closed/ });
  t.throws(() => client.connect(), { message: /closed/ });
});

test("a long outage is `suspended`; the client comes back by itself and resumes", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const network = await startTcpProxy(t, { port: edge.port });
  const { client, states } = newClient(t, {
    url: `ws://127.0.0.1:${network.port}`,
    suspendAfterMs: 1000,
    transports: ["websocket"],
  });
  const { sub, values } = numbers(client, "outage.a");
  await sub.ready();
  network.cut();
  await waitFor("suspended", () => client.state === "suspended", 10_000);
  await publishRange(edge, "outage.a", [1, 2]);
  network.restore();
  await waitFor("back and resumed", () => values.length === 2, 30_000);
  t.deepEqual(values, [1, 2]);
  t.deepEqual(states(), ["open", "reconnecting", "suspended", "open"]);
});

test("a publish over the edge's frame limit is refused by the client instead of closing the connection again and again", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const proxy = await startWsProxy(t, { port: edge.port });
  const { client } = newClient(t, { url: proxy.wsUrl, token: () => signToken({ publish: [">"] }) });
  await client.ready();
  const max = client.limits!.maxFrameBytes;
  await t.throwsAsync(client.publish("big.a", "x".repeat(max)), { message: /over the edge's frame limit/ });
  const error = await client.publish("big.a", "é".repeat(max / 2)).catch((e: unknown) => e);
  t.is((error as { code?: string }).code, "payload_too_large");
  t.like(await client.publish("big.a", "small"), { dup: false });
  t.is(proxy.connectionsAccepted(), 1);
});

test("the state names, in order, of a client that never reached an edge", async (t) => {
  const { client, states } = newClient(t, { url: "ws://127.0.0.1:9", suspendAfterMs: 500 });
  await waitFor("suspended", () => client.state === "suspended", 10_000);
  t.deepEqual(states(), ["suspended"]);
  t.is(client.state as ClientState, "suspended");
});

test("disconnect() and connect() while a token is being fetched make one connection, not two", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const proxy = await startWsProxy(t, { port: edge.port });
  const { client } = newClient(t, {
    url: proxy.wsUrl,
    autoConnect: false,
    token: async () => {
      await sleep(300);
      return signToken({});
    },
  });
  client.connect();
  client.disconnect();
  client.connect();
  await client.ready();
  await sleep(500);
  t.is(proxy.connectionsAccepted(), 1);
  t.is(proxy.connectionsOpen(), 1);
});
