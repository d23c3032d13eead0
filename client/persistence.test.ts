// Position persistence and handler completion: a position is saved only after its handler has
// finished, so an application that dies inside a handler gets that message again on its next
// start (at-least-once across crashes), while a living client delivers exactly once, in order,
// one message at a time — also with slow asynchronous handlers, without unbounded buffering.
import test, { type ExecutionContext } from "ava";
import { startTestEdge } from "../e2e/harness/test-edge.js";
import { startWsProxy } from "../e2e/harness/ws-proxy.js";
import type { RunningEdge } from "../edge/server.js";
import { HeraldClient, memoryPositions, type HeraldClientOptions, type PositionStorage } from "./node.js";
import { publish, range, storedMessages } from "../e2e/harness/http.js";
import { TEST_API_KEY, TEST_EDGE_ENV } from "../e2e/harness/tokens.js";
import { waitFor } from "../e2e/harness/wait.js";

function newClient(t: ExecutionContext, options: HeraldClientOptions): HeraldClient {
  const client = new HeraldClient(options);
  t.teardown(() => client.close());
  return client;
}

async function publishRange(edge: RunningEdge, topic: string, numbers: number[]): Promise<void> {
  for (const n of numbers) await publish(edge.url, { topic, data: { n } }, TEST_API_KEY);
}

/** A storage adapter that keeps positions as JSON text, like a file or localStorage would. */
function textStorage(): PositionStorage & { readonly text: Map<string, string> } {
  const text = new Map<string, string>();
  return {
    text,
    load: (topic) => {
      const saved = text.get(topic);
      return Promise.resolve(saved === undefined ? undefined : JSON.parse(saved));
    },
    save: (topic, position) => void text.set(topic, JSON.stringify(position)),
    remove: (topic) => void text.delete(topic),
  };
}

test("an app that dies inside a handler gets that message again on its next start, then the rest, once each, in order", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const storage = textStorage();
  const topic = "crash.inbox";

  const first = newClient(t, { url: edge.url, storage });
  const firstSeen: number[] = [];
  const firstSub = first.subscribe<{ n: number }>(topic, (message) => {
    firstSeen.push(message.data.n);
    if (message.data.n < 5) return undefined;
    // The app dies while handling message 5: its work never completes.
    first.close();
    return new Promise<void>(() => undefined);
  });
  await waitFor("first subscription confirmed", () => firstSub.position !== undefined);
  await publishRange(edge, topic, range(10));
  await waitFor("the first client died in the handler of 5", () => first.state === "closed");
  const stored = await storedMessages(edge.url, topic, TEST_API_KEY);
  t.deepEqual(firstSeen, range(5), "one message at a time: 6..10 waited for the handler of 5");
  t.deepEqual(
    JSON.parse(storage.text.get(topic)!),
    { epoch: firstSub.position!.epoch, seq: stored[3]!.seq },
    "saved up to 4, the last finished",
  );

  const second = newClient(t, { url: edge.url, storage });
  const secondSeen: number[] = [];
  second.subscribe<{ n: number }>(topic, async (message) => {
    await new Promise((resolve) => setImmediate(resolve));
    secondSeen.push(message.data.n);
  });
  await waitFor("5..10 again after the restart", () => secondSeen.length >= 6);
  await publishRange(edge, topic, range(5, 11));
  await waitFor("5..15", () => secondSeen.length >= 11);
  t.deepEqual(secondSeen, range(11, 5));
  const all = await storedMessages(edge.url, topic, TEST_API_KEY);
  await waitFor(
    "position saved after the last handler",
    () => JSON.parse(storage.text.get(topic)!).seq === all.at(-1)!.seq,
  );
});

test("while a synchronous handler runs, storage still holds the previous message's position", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const storage = memoryPositions();
  const topic = "sync.saves";
  const client = newClient(t, { url: edge.url, storage });
  const storedDuringHandler: (number | undefined)[] = [];
  const prevs: number[] = [];
  const sub = client.subscribe(topic, (message) => {
    prevs.push(message.prev);
    storedDuringHandler.push(storage.entries.get(topic)?.seq);
  });
  await waitFor("subscription confirmed", () => sub.position !== undefined);
  await publishRange(edge, topic, range(5));
  await waitFor("5 messages", () => prevs.length === 5);
  t.deepEqual(storedDuringHandler, prevs);
  const stored = await storedMessages(edge.url, topic, TEST_API_KEY);
  t.deepEqual(storage.entries.get(topic), { epoch: sub.position!.epoch, seq: stored.at(-1)!.seq });
  t.deepEqual(sub.position, storage.entries.get(topic));
});

test("a slow async handler gets messages one at a time, in order; past maxPending the topic pauses and resumes from the log", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const proxy = await startWsProxy(t, { port: edge.port });
  const topic = "slow.handler";
  const client = newClient(t, { url: proxy.wsUrl });
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let running = 0;
  let overlapped = false;
  const seen: number[] = [];
  const sub = client.subscribe<{ n: number }>(topic, { maxPending: 5 }, async (message) => {
    overlapped ||= running > 0;
    running++;
    seen.push(message.data.n);
    await gate;
    await new Promise((resolve) => setImmediate(resolve));
    running--;
  });
  await waitFor("subscription confirmed", () => sub.position !== undefined);
  const subscribed = proxy.edgeFramesSeen("subok");
  const events: string[] = [];
  sub.on("subscribing", ({ reason }) => events.push(`subscribing:${reason}`));
  sub.on("subscribed", ({ wasRecovering, recovered }) =>
    events.push(`subscribed:${wasRecovering}:${recovered}`),
  );

  // All 30 are stored while the handler is stuck on the first: the client holds at most 5.
  await publishRange(edge, topic, range(30));
  await waitFor("the handler is on message 1", () => seen.length === 1);
  release();
  await waitFor("30 messages", () => seen.length >= 30);
  t.deepEqual(seen, range(30));
  t.false(overlapped, "never two handlers of one subscription at once");
  t.true(proxy.edgeFramesSeen("subok") > subscribed, "resumed by subscribing again from its position");
  t.is(proxy.connectionsAccepted(), 1);
  await publishRange(edge, topic, [31]);
  await waitFor("live again", () => seen.length === 31);
  t.is(seen.at(-1), 31);
  // Each pause is told as such, and each resume from the log recovered everything.
  t.true(events.length >= 2, events.join(" "));
  for (let i = 0; i < events.length; i += 2)
    t.deepEqual(events.slice(i, i + 2), ["subscribing:paused", "subscribed:true:true"], events.join(" "));
});

test("maxPending must be a whole number of at least 1", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const client = newClient(t, { url: edge.url });
  t.throws(() => client.subscribe("a.b", { maxPending: 0 }, () => undefined), {
    message: "herald: maxPending must be a whole number of at least 1, got 0",
  });
  t.throws(() => client.subscribe("a.b", { maxPending: 1.5 }, () => undefined), {
    message: "herald: maxPending must be a whole number of at least 1, got 1.5",
  });
});
