// A live feed's queue behind a slow repair: when it collapses into one
// catch-up (far behind, or over the memory budget), a restart waiting in it (the stream was
// re-created) must survive, or the feed would catch up in the new stream from the old chain.
import test from "ava";
import { startNats } from "../../../e2e/harness/nats-server.js";
import { chainProblem, Recorder, startBackend } from "../../../e2e/harness/jetstream-support.js";
import { loadConfig } from "../../../shared/config.js";
import { EdgeMetrics } from "../../common/metrics.js";
import { MemoryBudget } from "../../common/memory-budget.js";
import { JetStreamBackend } from "./jetstream-backend.js";
import { sleep, waitFor } from "../../../e2e/harness/wait.js";
import type { StoredMessage } from "../backend.js";
import { TopicFeed, type FeedContext } from "./live-feed.js";
import type { StreamReader } from "./reader.js";

/** The backend's feed context with a reader whose stream reads wait, once hold() was called, for release(). */
function heldReads(backend: JetStreamBackend) {
  const context = (backend as unknown as { feedContext: FeedContext }).feedContext;
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  let holding = false;
  const reader = Object.create(context.reader) as StreamReader;
  reader.after = async (...args) => {
    if (holding) await held;
    return context.reader.after(...args);
  };
  return { context, reader, hold: () => (holding = true), release: () => release() };
}

test("a restart queued behind a slow repair survives the queue's collapse at 10,000 live copies", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  const { context, reader, hold, release } = heldReads(backend);
  let inject: (message: StoredMessage) => void = () => {};
  const feedContext: FeedContext = {
    ...context,
    reader,
    subscribe: (topic, onMessage) => {
      inject = (message) => onMessage(message);
      return context.subscribe(topic, onMessage);
    },
  };
  const recorder = new Recorder();
  const feed = await TopicFeed.open("q", recorder, feedContext);
  t.teardown(() => feed.close());
  await backend.publish({ topic: "q", data: "1" });
  await waitFor("the first message", () => recorder.messages().length === 1);
  const last = recorder.messages()[0]!.seq;

  // A gap: the repair's read is held, so everything after it waits in the queue.
  hold();
  inject({ topic: "q", seq: last + 10, prev: last + 5, ts: Date.now(), data: '"gap"' });
  feed.restart();
  for (let i = 0; i < 10_001; i++)
    inject({ topic: "q", seq: last + 11 + i, prev: last + 10 + i, ts: Date.now(), data: '"x"' });
  release();
  await waitFor(
    "the restart's reset",
    () => recorder.events.some((e) => "reset" in e && e.reset.head === 0),
    10_000,
  );
  t.pass();
});

test("live copies queued behind a slow repair are bounded by the edge's memory budget in bytes, not only by their count, and none is lost", async (t) => {
  const nats = await startNats(t);
  const budget = new MemoryBudget(1024 * 1024);
  const backend = new JetStreamBackend(
    loadConfig({ HERALD_NATS_URL: nats.url }),
    new EdgeMetrics(),
    undefined,
    budget,
  );
  t.teardown(() => backend.close());
  await backend.start();
  const { backend: publisher } = await startBackend(t, nats.url);
  const { context, reader, hold, release } = heldReads(backend);
  const feedContext: FeedContext = {
    ...context,
    reader,
    // One live copy lost on the wire: the next one reveals the gap, whose repair is held.
    subscribe: (topic, onMessage) =>
      context.subscribe(topic, (m) => onMessage(m?.data === '"drop"' ? undefined : m)),
  };
  const recorder = new Recorder();
  const feed = await TopicFeed.open("bytes", recorder, feedContext);
  t.teardown(() => feed.close());
  await publisher.publish({ topic: "bytes", data: '"first"' });
  await waitFor("the first message", () => recorder.messages().length === 1);
  hold();
  await publisher.publish({ topic: "bytes", data: '"drop"' });
  const big = JSON.stringify("x".repeat(60_000));
  // What the feed's queue holds, measured on the queue itself.
  const queued = () =>
    (feed as unknown as { queue: { kind: string; message?: StoredMessage }[] }).queue.reduce(
      (sum, item) => sum + (item.message?.data.length ?? 0),
      0,
    );
  let most = 0;
  for (let i = 0; i < 40; i++) {
    await publisher.publish({ topic: "bytes", data: big });
    most = Math.max(most, queued());
  }
  await sleep(200);
  most = Math.max(most, queued());
  t.true(most <= budget.limit, `the queue held ${most} bytes of data`);
  release();
  await waitFor("every message", () => recorder.messages().length === 42, 10_000);
  t.is(chainProblem(recorder.messages(), 0), undefined);
  t.is(budget.usedBy("feed"), 0);
});

test("a gap whose messages retention removed before the repair could read them restarts the chain instead of blocking the feed forever", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url, {
    HERALD_MAX_AGE_SECONDS: "1",
    HERALD_DUPLICATE_WINDOW_SECONDS: "1",
  });
  const { context, reader, hold, release } = heldReads(backend);
  const feedContext: FeedContext = {
    ...context,
    reader,
    subscribe: (topic, onMessage) =>
      context.subscribe(topic, (m) => onMessage(m?.data === '"B"' ? undefined : m)),
  };
  const recorder = new Recorder();
  const feed = await TopicFeed.open("gone", recorder, feedContext);
  t.teardown(() => feed.close());
  const a = await backend.publish({ topic: "gone", data: '"A"' });
  await waitFor("A", () => recorder.messages().length === 1);
  hold();
  const b = await backend.publish({ topic: "gone", data: '"B"' });
  const c = await backend.publish({ topic: "gone", data: '"C"' });
  // The repair of the gap before C waits until B (and A and C) left retention.
  await waitFor(
    "the topic to age out",
    async () => (await context.reader.last("gone")) === undefined,
    10_000,
  );
  release();
  await waitFor("C", () => recorder.messages().some((m) => m.data === '"C"'), 10_000);
  t.deepEqual(
    recorder.events.map((e) =>
      "reset" in e ? `reset ${e.reset.head}` : `${e.message.seq}<${e.message.prev}`,
    ),
    [`${a.seq}<0`, `reset ${b.seq}`, `${c.seq}<${b.seq}`],
  );
});
