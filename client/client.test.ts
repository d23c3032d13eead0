// The SDK against real edges (embedded backend, in this process) through a WebSocket-aware proxy
// that can drop a chosen frame, inject an edge frame, or cut the network.
import test, { type ExecutionContext } from "ava";
import { startTestEdge } from "../e2e/harness/test-edge.js";
import { startWsProxy, type WsProxy } from "../e2e/harness/ws-proxy.js";
import type { RunningEdge } from "../edge/server.js";
import {
  HeraldClient,
  memoryPositions,
  type ClientState,
  type HeraldMessage,
  type ResyncInfo,
  type StateChange,
} from "./node.js";
import { publish, range, storedMessages } from "../e2e/harness/http.js";
import { signToken, TEST_API_KEY, TEST_EDGE_ENV } from "../e2e/harness/tokens.js";
import { sleep, waitFor } from "../e2e/harness/wait.js";

interface Setup {
  edge: RunningEdge;
  proxy: WsProxy;
}

async function setup(t: ExecutionContext): Promise<Setup> {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const proxy = await startWsProxy(t, { port: edge.port });
  return { edge, proxy };
}

function newClient(
  t: ExecutionContext,
  options: ConstructorParameters<typeof HeraldClient>[0],
): { client: HeraldClient; states: ClientState[] } {
  const client = new HeraldClient(options);
  const states: ClientState[] = [client.state];
  client.on("state", (state) => states.push(state));
  t.teardown(() => client.close());
  return { client, states };
}

/** Subscribes and records the `n` field of every delivered message's data. */
function received(client: HeraldClient, topic: string, from?: Parameters<HeraldClient["subscribe"]>[1]) {
  const values: number[] = [];
  const messages: HeraldMessage<{ n: number }>[] = [];
  const sub = client.subscribe<{ n: number }>(topic, from ?? {}, (message) => {
    messages.push(message);
    values.push(message.data.n);
  });
  return { sub, values, messages };
}

async function publishRange(edge: RunningEdge, topic: string, numbers: number[]): Promise<void> {
  for (const n of numbers) await publish(edge.url, { topic, data: { n } }, TEST_API_KEY);
}

test("delivers every message once and in order across a network cut, resuming from its position", async (t) => {
  const { edge, proxy } = await setup(t);
  const { client, states } = newClient(t, { url: proxy.wsUrl });
  const { sub, values } = received(client, "cut.stream");
  await waitFor("first subscription confirmed", () => sub.position !== undefined);

  await publishRange(edge, "cut.stream", range(20));
  await waitFor("20 messages", () => values.length === 20);
  proxy.cutAll();
  // Published while the client is away: they must come from the edge's log on resume.
  await publishRange(edge, "cut.stream", range(20, 21));
  await waitFor("40 messages after the resume", () => values.length >= 40);
  await publishRange(edge, "cut.stream", range(10, 41));
  await waitFor("50 messages", () => values.length >= 50);

  t.deepEqual(values, range(50));
  t.true(proxy.connectionsAccepted() >= 2);
  t.deepEqual(states.slice(0, 4), ["connecting", "open", "reconnecting", "open"]);
  const stored = await storedMessages(edge.url, "cut.stream", TEST_API_KEY);
  t.deepEqual(sub.position?.seq, stored.at(-1)?.seq);
});

test("closed with 1001 (draining) or 4008 (slow consumer) it resumes at once, not after a backoff delay", async (t) => {
  const { edge, proxy } = await setup(t);
  // A backoff this long would hold the client away far beyond the test's deadlines.
  const { client } = newClient(t, { url: proxy.wsUrl, backoff: { initialMs: 3_600_000, maxMs: 3_600_000 } });
  const { sub, values } = received(client, "close-codes.stream");
  await waitFor("subscription confirmed", () => sub.position !== undefined);
  let published = 0;
  for (const [index, code] of [4008, 1001].entries()) {
    await publishRange(edge, "close-codes.stream", range(5, published + 1));
    published += 5;
    await waitFor(`${published} messages`, () => values.length === published);
    proxy.closeClients(code, "test");
    await waitFor(
      `reconnected after ${code}`,
      () => proxy.connectionsAccepted() === index + 2 && client.state === "open",
      30_000,
    );
  }
  await publishRange(edge, "close-codes.stream", range(5, published + 1));
  await waitFor("all messages", () => values.length >= published + 5);
  t.deepEqual(values, range(published + 5));
});

test("a connection that goes silent (half-open) is detected by the heartbeat and replaced; nothing is lost", async (t) => {
  const edge = await startTestEdge(t, { ...TEST_EDGE_ENV, HERALD_HEARTBEAT_MS: "1000" });
  const proxy = await startWsProxy(t, { port: edge.port });
  const { client, states } = newClient(t, { url: proxy.wsUrl });
  const { sub, values } = received(client, "silent.stream");
  await waitFor("subscription confirmed", () => sub.position !== undefined);
  await publishRange(edge, "silent.stream", range(5));
  await waitFor("5 messages", () => values.length === 5);

  proxy.freezeAll();
  await publishRange(edge, "silent.stream", range(5, 6));
  await waitFor("a new connection", () => proxy.connectionsAccepted() === 2 && client.state === "open");
  await waitFor("10 messages", () => values.length >= 10);
  t.deepEqual(values, range(10));
  t.deepEqual(states, ["connecting", "open", "reconnecting", "open"]);
});

test("a msg frame dropped on the wire is healed by re-subscription: nothing missing, nothing out of order", async (t) => {
  const { edge, proxy } = await setup(t);
  const { client } = newClient(t, { url: proxy.wsUrl });
  const { sub, values, messages } = received(client, "gap.stream");
  await waitFor("subscription confirmed", () => sub.position !== undefined);
  const events: string[] = [];
  sub.on("subscribing", ({ reason }) => events.push(`subscribing:${reason}`));
  sub.on("subscribed", ({ wasRecovering, recovered }) =>
    events.push(`subscribed:${wasRecovering}:${recovered}`),
  );

  const dropped = proxy.dropEdgeFrame((frame) => frame.op === "msg" && (frame.data as { n: number }).n === 5);
  await publishRange(edge, "gap.stream", range(10));
  const frame = await dropped;
  t.is(frame.op, "msg");
  await waitFor("10 messages", () => values.length >= 10);
  t.deepEqual(values, range(10));
  // The healed run is a proven chain: each prev is the seq delivered before it.
  for (let i = 1; i < messages.length; i++) t.is(messages[i]!.prev, messages[i - 1]!.seq);
  t.is(proxy.connectionsAccepted(), 1, "healed on the same connection, by re-subscribing");
  // The application saw the repair: asked for again from its position, and recovered.
  t.deepEqual(events, ["subscribing:repairing", "subscribed:true:true"]);
});

test("honours a reconnect frame: moves to a new connection and loses nothing", async (t) => {
  const { edge, proxy } = await setup(t);
  const { client, states } = newClient(t, { url: proxy.wsUrl });
  const { sub, values } = received(client, "moving.stream");
  await waitFor("subscription confirmed", () => sub.position !== undefined);
  await publishRange(edge, "moving.stream", range(5));
  await waitFor("5 messages", () => values.length === 5);

  proxy.injectEdgeFrame({ op: "reconnect", afterMs: 200 });
  await publishRange(edge, "moving.stream", range(5, 6));
  await waitFor("a second connection", () => proxy.connectionsAccepted() === 2 && client.state === "open");
  await publishRange(edge, "moving.stream", range(5, 11));
  await waitFor("15 messages", () => values.length >= 15);
  t.deepEqual(values, range(15));
  t.deepEqual(states, ["connecting", "open", "reconnecting", "open"]);
});

test("publish with a msgId whose ack is lost with the connection is retried and stored once", async (t) => {
  const { edge, proxy } = await setup(t);
  const { client } = newClient(t, {
    url: proxy.wsUrl,
    token: () => signToken({ expiresIn: 600, publish: [">"] }),
  });
  await waitFor("open", () => client.state === "open");

  const lostAck = proxy.dropEdgeFrame((frame) => frame.op === "ack" && frame.seq !== undefined);
  const published = client.publish("orders.eu", { n: 1 }, { msgId: "order-1" });
  await lostAck;
  proxy.cutAll();
  const result = await published;
  t.true(result.dup, "the retry was recognised as the message already stored");
  t.is(proxy.connectionsAccepted(), 2);

  // Without a msgId the client makes one, so the same holds.
  const lostAgain = proxy.dropEdgeFrame((frame) => frame.op === "ack" && frame.seq !== undefined);
  const second = client.publish("orders.eu", { n: 2 });
  await lostAgain;
  proxy.cutAll();
  t.true((await second).dup);

  const stored = await storedMessages(edge.url, "orders.eu", TEST_API_KEY);
  t.deepEqual(
    stored.map((m) => m.data),
    [{ n: 1 }, { n: 2 }],
  );
  t.deepEqual(
    stored.map((m) => m.seq),
    [result.seq, (await second).seq],
  );
});

test("publish refused by the edge rejects with its error code", async (t) => {
  const { proxy } = await setup(t);
  const { client } = newClient(t, {
    url: proxy.wsUrl,
    token: () => signToken({ expiresIn: 600, publish: ["allowed.>"] }),
  });
  await t.throwsAsync(client.publish("denied.topic", { n: 1 }), {
    name: "HeraldError",
    message: /publish to denied\.topic refused: /,
  });
  const error = await client.publish("denied.topic", 1).catch((e: unknown) => e);
  t.is((error as { code?: string }).code, "forbidden");
  t.is((await client.publish("allowed.topic", 1)).dup, false);
});

test("a subscription the edge refuses ends with an error event; the connection and other subscriptions go on", async (t) => {
  const { edge, proxy } = await setup(t);
  const { client } = newClient(t, {
    url: proxy.wsUrl,
    token: () => signToken({ expiresIn: 600, subscribe: ["allowed.>"], publish: [">"] }),
  });
  const refused: { code: string; message: string }[] = [];
  const denied = client.subscribe("denied.topic", () =>
    t.fail("no message may arrive on a refused subscription"),
  );
  denied.on("error", (error) => refused.push({ code: error.code, message: error.message }));
  const { sub, values } = received(client, "allowed.topic");
  await waitFor("refusal", () => refused.length === 1);
  t.is(refused[0]!.code, "forbidden");
  t.regex(refused[0]!.message, /^subscription to denied\.topic refused: /);
  t.true(denied.ended);

  await waitFor("allowed subscription confirmed", () => sub.position !== undefined);
  await publishRange(edge, "allowed.topic", range(3));
  await waitFor("3 messages", () => values.length >= 3);
  t.deepEqual(values, range(3));
  t.is(client.state, "open");
  // The topic is free again: a new subscription may be made (and is refused again).
  t.notThrows(() => client.subscribe("denied.topic", () => undefined));
});

test("refreshes its token before exp on the open connection: no reconnect, nothing lost", async (t) => {
  const { edge, proxy } = await setup(t);
  let issued = 0;
  const { client, states } = newClient(t, {
    url: proxy.wsUrl,
    token: () => {
      issued++;
      return signToken({ expiresIn: 6, publish: [">"] });
    },
  });
  const { sub, values } = received(client, "refresh.stream");
  await waitFor("subscription confirmed", () => sub.position !== undefined);

  // Two refreshes: the connection outlived its first token and its first refreshed one.
  let n = 0;
  while (issued < 3) {
    await publishRange(edge, "refresh.stream", [++n]);
    await sleep(100);
  }
  await waitFor(`${n} messages`, () => values.length >= n);
  t.deepEqual(values, range(n));
  t.is(proxy.connectionsAccepted(), 1);
  t.deepEqual(states, ["connecting", "open"]);
});

test("after a 4001 it reconnects only once the token function gives a new token", async (t) => {
  const { proxy } = await setup(t);
  const expired = await signToken({ expiresIn: -10, publish: [">"] });
  let calls = 0;
  const errors: string[] = [];
  const { client } = newClient(t, {
    url: proxy.wsUrl,
    backoff: { initialMs: 50, maxMs: 200 },
    token: async () => (++calls <= 3 ? expired : signToken({ expiresIn: 600, publish: [">"] })),
  });
  client.on("error", (error) => errors.push((error as { code?: string }).code ?? error.message));
  await waitFor("open with a valid token", () => client.state === "open");
  t.true(calls >= 4);
  t.true(errors.includes("unauthenticated"));
  // The edge saw the expired token once: the same refused token is never offered again.
  t.is(proxy.connectionsAccepted(), 2);
});

test("a fixed token refused by the edge closes the client instead of retrying forever", async (t) => {
  const { proxy } = await setup(t);
  const { client, states } = newClient(t, {
    url: proxy.wsUrl,
    token: await signToken({ expiresIn: -10, publish: [">"] }),
  });
  const ended: StateChange[] = [];
  client.on("state", (state, change) => state === "closed" && ended.push(change));
  await waitFor("closed", () => client.state === "closed");
  t.deepEqual(states, ["connecting", "closed"]);
  // The state event says why: the close code, and the error the application can branch on.
  t.like(ended[0], { previous: "connecting", code: 4001, error: { code: "unauthenticated" } });
  await t.throwsAsync(client.ready(), { message: /4001/ });
  t.throws(() => client.subscribe("a.b", () => undefined), { message: /the client is closed/ });
  await t.throwsAsync(client.publish("a.b", 1), { message: /closed/ });
  t.is(proxy.connectionsAccepted(), 1);
});

test("a position the edge cannot honour gives a resync event, then delivery continues", async (t) => {
  const { edge, proxy } = await setup(t);
  await publishRange(edge, "resync.stream", range(3));
  const storage = memoryPositions([["resync.stream", { epoch: "an-epoch-long-gone", seq: 7 }]]);
  const { client } = newClient(t, { url: proxy.wsUrl, storage });
  const resyncs: ResyncInfo[] = [];
  const { sub, values } = received(client, "resync.stream");
  sub.on("resync", (info) => resyncs.push(info));
  await waitFor("resync", () => resyncs.length === 1);
  t.deepEqual(resyncs[0]!.lost, { epoch: "an-epoch-long-gone", seq: 7 });
  t.not(resyncs[0]!.position.epoch, "an-epoch-long-gone");
  t.deepEqual(storage.entries.get("resync.stream"), resyncs[0]!.position);

  await publishRange(edge, "resync.stream", [4, 5]);
  await waitFor("2 messages", () => values.length >= 2);
  t.deepEqual(values, [4, 5]);
  t.is(storage.entries.get("resync.stream")?.seq, sub.position?.seq);
});

test("from { last: K } replays the last K messages, then live; a stored position wins on the next start", async (t) => {
  const { edge, proxy } = await setup(t);
  await publishRange(edge, "last.stream", range(10));
  const storage = memoryPositions();
  const first = newClient(t, { url: proxy.wsUrl, storage });
  const one = received(first.client, "last.stream", { from: { last: 3 } });
  await waitFor("3 replayed", () => one.values.length === 3);
  t.deepEqual(one.values, [8, 9, 10]);
  first.client.close();
  t.true(one.sub.ended);
  t.is(first.client.state, "closed");

  await publishRange(edge, "last.stream", [11, 12]);
  const second = newClient(t, { url: proxy.wsUrl, storage });
  const two = received(second.client, "last.stream", { from: { last: 3 } });
  await waitFor("resumed", () => two.values.length === 2);
  t.deepEqual(two.values, [11, 12]);
});
