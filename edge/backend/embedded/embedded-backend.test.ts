// The embedded log's semantics, exactly as docs/design.md#backend-contract defines them for both backends.
import test from "ava";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../../shared/config.js";
import { EdgeMetrics } from "../../common/metrics.js";
import { BackendUnavailableError, type StoredMessage } from "../backend.js";
import { EmbeddedBackend } from "./embedded-backend.js";
import { waitFor } from "../../../e2e/harness/wait.js";

async function backendWith(env: Record<string, string> = {}): Promise<EmbeddedBackend> {
  const backend = new EmbeddedBackend(loadConfig(env), new EdgeMetrics());
  await backend.start();
  return backend;
}

const seqs = (messages: readonly StoredMessage[]) => messages.map((m) => m.seq);

test("seq is one global increasing sequence, prev chains each topic, the epoch names the history", async (t) => {
  const backend = await backendWith();
  t.teardown(() => backend.close());
  const a1 = await backend.publish({ topic: "a", data: "1" });
  const b1 = await backend.publish({ topic: "b.x", data: '"b1"' });
  const a2 = await backend.publish({ topic: "a", data: "2" });
  const a3 = await backend.publish({ topic: "a", data: "3" });
  t.deepEqual([a1.seq, b1.seq, a2.seq, a3.seq], [1, 2, 3, 4]);
  t.false(a1.dup);
  const a = await backend.read("a", { after: 0 }, 100);
  t.deepEqual(
    a.messages.map(({ seq, prev, data, topic }) => ({ seq, prev, data, topic })),
    [
      { seq: 1, prev: 0, data: "1", topic: "a" },
      { seq: 3, prev: 1, data: "2", topic: "a" },
      { seq: 4, prev: 3, data: "3", topic: "a" },
    ],
  );
  t.true(a.recovered);
  t.is(a.head, 4);
  t.is(a.epoch, backend.epoch());
  t.true(a.messages.every((m, i) => i === 0 || m.ts >= a.messages[i - 1]!.ts));
  const other = await backendWith();
  t.teardown(() => other.close());
  t.not(other.epoch(), backend.epoch());
  t.deepEqual(backend.status(), { state: "ready", detail: "embedded in-memory log" });
});

test("retention by count keeps a suffix; `recovered` is false exactly when something after the position is gone", async (t) => {
  const backend = await backendWith({ HERALD_MAX_MSGS_PER_TOPIC: "3" });
  t.teardown(() => backend.close());
  const topic: number[] = [];
  let other = 0;
  for (let i = 1; i <= 5; i++) {
    topic.push((await backend.publish({ topic: "t", data: String(i) })).seq);
    if (i === 3) other = (await backend.publish({ topic: "u", data: "0" })).seq;
  }
  const [s1, s2, s3, s4, s5] = topic as [number, number, number, number, number];
  const read = (after: number, limit = 100) => backend.read("t", { after, orOldest: true }, limit);

  t.like(await read(0), { recovered: false, head: s5 });
  t.deepEqual(seqs((await read(0)).messages), [s3, s4, s5]);
  t.like(await read(s1), { recovered: false });
  t.deepEqual(seqs((await read(s1)).messages), [s3, s4, s5]);
  // s2 is the prev of the oldest retained message: nothing after it is missing.
  t.like(await read(s2), { recovered: true });
  t.deepEqual(seqs((await read(s2)).messages), [s3, s4, s5]);
  t.deepEqual(seqs((await read(s3)).messages), [s4, s5]);
  t.like(await read(s5), { recovered: true, messages: [] });
  // Not a seq of this topic: not recoverable, messages from the oldest retained (asked for); beyond
  // the head: none.
  t.like(await read(s5 + 100), { recovered: false });
  t.deepEqual(seqs((await read(s5 + 100)).messages), []);
  t.true(other > s3 && other < s4);
  t.like(await read(other), { recovered: false });
  t.deepEqual(seqs((await read(other)).messages), [s3, s4, s5]);
  // Limits.
  t.deepEqual(seqs((await read(s2, 2)).messages), [s3, s4]);
  t.deepEqual(seqs((await backend.read("t", { last: 2 }, 100)).messages), [s4, s5]);
  t.deepEqual(seqs((await backend.read("t", { last: 10 }, 100)).messages), [s3, s4, s5]);
  t.deepEqual(seqs((await backend.read("t", { last: 3 }, 2)).messages), [s3, s4]);
  t.deepEqual((await backend.read("t", { last: 0 }, 100)).messages, []);
  // The other topic is untouched.
  t.like(await backend.read("u", { after: 0 }, 100), { recovered: true, head: other });
  // A topic nothing was published to.
  t.deepEqual(await backend.read("never", { after: 0 }, 100), {
    epoch: backend.epoch(),
    messages: [],
    recovered: true,
    head: 0,
  });
  t.like(await backend.read("never", { after: 3 }, 100), { recovered: false, head: 0 });
});

test("retention by age removes old messages; the topic's chain and recovered stay exact", async (t) => {
  const backend = await backendWith({ HERALD_MAX_AGE_SECONDS: "1" });
  t.teardown(() => backend.close());
  const first = await backend.publish({ topic: "aging", data: "1" });
  const second = await backend.publish({ topic: "aging", data: "2" });
  await waitFor(
    "aged messages to be removed",
    async () => (await backend.read("aging", { last: 10 }, 10)).messages.length === 0,
  );
  t.like(await backend.read("aging", { after: 0 }, 10), { recovered: false, head: second.seq, messages: [] });
  t.like(await backend.read("aging", { after: first.seq }, 10), { recovered: false });
  t.like(await backend.read("aging", { after: second.seq }, 10), { recovered: true, messages: [] });
  const third = await backend.publish({ topic: "aging", data: "3" });
  const after = await backend.read("aging", { after: second.seq }, 10);
  t.true(after.recovered);
  t.deepEqual(
    after.messages.map((m) => [m.seq, m.prev]),
    [[third.seq, second.seq]],
  );
});

test("retention by bytes removes the oldest messages of the whole log first", async (t) => {
  const MiB = 1024 * 1024;
  const backend = await backendWith({ HERALD_MAX_BYTES: String(MiB) });
  t.teardown(() => backend.close());
  const payload = JSON.stringify("x".repeat(10_000));
  const topics = ["b.one", "b.two", "b.three"];
  const published: { topic: string; seq: number }[] = [];
  for (let i = 0; i < 300; i++) {
    const topic = topics[i % 3]!;
    published.push({ topic, seq: (await backend.publish({ topic, data: payload })).seq });
  }
  const retained = new Set<number>();
  let bytes = 0;
  for (const topic of topics) {
    const read = await backend.read(topic, { after: 0, orOldest: true }, 1000);
    t.false(read.recovered, "the oldest messages of every topic are gone");
    for (const m of read.messages) {
      retained.add(m.seq);
      bytes += Buffer.byteLength(m.topic) + Buffer.byteLength(m.data);
    }
  }
  t.true(bytes <= MiB);
  t.true(bytes > MiB - 2 * (payload.length + 8), "only as much as needed was removed");
  // What is retained is a suffix of the global history.
  const order = published.map((p) => retained.has(p.seq));
  const firstKept = order.indexOf(true);
  t.true(firstKept > 0);
  t.true(order.slice(firstKept).every(Boolean));
});

test("a repeated msgId within the duplicate window returns the original seq; after the window it is stored again", async (t) => {
  const backend = await backendWith({ HERALD_DUPLICATE_WINDOW_SECONDS: "1" });
  t.teardown(() => backend.close());
  const stored = await backend.publish({ topic: "d", data: "1", msgId: "m-1" });
  const storedAt = Date.now();
  t.deepEqual(await backend.publish({ topic: "d", data: "1", msgId: "m-1" }), { seq: stored.seq, dup: true });
  // A msgId is scoped to its topic: on another topic it is another message.
  t.deepEqual(await backend.publish({ topic: "other", data: "2", msgId: "m-1" }), {
    seq: stored.seq + 1,
    dup: false,
  });
  const different = await backend.publish({ topic: "d", data: "1", msgId: "m-2" });
  t.deepEqual(different, { seq: stored.seq + 2, dup: false });
  t.deepEqual(seqs((await backend.read("d", { after: 0 }, 10)).messages), [stored.seq, different.seq]);
  await waitFor("the duplicate window to pass", () => Date.now() > storedAt + 1_100);
  const again = await backend.publish({ topic: "d", data: "1", msgId: "m-1" });
  t.false(again.dup);
  t.true(again.seq > different.seq);
});

test("a live feed delivers every new message once, in order, chained from its head", async (t) => {
  const backend = await backendWith();
  t.teardown(() => backend.close());
  await backend.publish({ topic: "live", data: "0" });
  const before = await backend.publish({ topic: "live", data: "1" });
  const received: StoredMessage[] = [];
  const feed = await backend.live("live", {
    message: (m) => received.push(m),
    reset: () => t.fail("no reset expected"),
  });
  t.is(feed.head, before.seq);
  t.is(feed.epoch, backend.epoch());
  // A throwing feed does not disturb the others.
  const throwing = await backend.live("live", {
    message: () => {
      throw new Error("boom");
    },
    reset: () => {},
  });
  t.teardown(() => throwing.close());
  const outcomes = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      backend.publish({ topic: i % 2 === 0 ? "live" : "elsewhere", data: String(i) }),
    ),
  );
  const mine = outcomes.filter((_, i) => i % 2 === 0).map((o) => o.seq);
  // A feed opened in the middle starts at the head of that moment.
  const late: StoredMessage[] = [];
  const lateFeed = await backend.live("live", { message: (m) => late.push(m), reset: () => {} });
  const more = (await backend.publish({ topic: "live", data: "last" })).seq;
  await waitFor("the live messages", () => received.length === 101 && late.length === 1);
  t.deepEqual(seqs(received), [...mine, more]);
  let prev = before.seq;
  for (const m of received) {
    t.is(m.prev, prev);
    prev = m.seq;
  }
  t.deepEqual(
    late.map((m) => [m.prev, m.seq]),
    [[lateFeed.head, more]],
  );
  feed.close();
  lateFeed.close();
  await backend.publish({ topic: "live", data: "after close" });
  await new Promise((resolve) => setImmediate(resolve));
  t.is(received.length, 101, "a closed feed receives nothing more");
});

test("recreate() starts a new history: a new epoch, old positions void, feeds reset to head 0", async (t) => {
  const backend = await backendWith();
  t.teardown(() => backend.close());
  await backend.publish({ topic: "r", data: "1" });
  const oldEpoch = backend.epoch();
  const events: string[] = [];
  await backend.live("r", {
    message: (m) => events.push(`msg ${m.prev}->${m.seq}`),
    reset: (info) => events.push(`reset ${info.epoch === backend.epoch() ? "new" : "old"} ${info.head}`),
  });
  backend.recreate();
  t.not(backend.epoch(), oldEpoch);
  const first = await backend.publish({ topic: "r", data: "2" });
  t.is(first.seq, 1);
  await waitFor("the reset and the message", () => events.length === 2);
  t.deepEqual(events, ["reset new 0", "msg 0->1"]);
  t.like(await backend.read("r", { after: 0 }, 10), { recovered: true, head: 1 });
});

test("bad input and a closed log give clear errors", async (t) => {
  const backend = await backendWith();
  await t.throwsAsync(backend.publish({ topic: "a..b", data: "1" }), { message: /empty token/ });
  await t.throwsAsync(backend.live("a.*", { message: () => {}, reset: () => {} }), { message: /wildcards/ });
  await backend.close();
  t.is(backend.status().state, "closed");
  await t.throwsAsync(backend.publish({ topic: "a", data: "1" }), { instanceOf: BackendUnavailableError });
  await t.throwsAsync(backend.read("a", { after: 0 }, 1), { instanceOf: BackendUnavailableError });
});

test("the retention sweep does not keep the process alive", async (t) => {
  const backendModule = fileURLToPath(new URL("./embedded-backend.ts", import.meta.url));
  const configModule = fileURLToPath(new URL("../../../shared/config.ts", import.meta.url));
  const script = `
    const { EmbeddedBackend } = await import(${JSON.stringify(backendModule)});
    const { loadConfig } = await import(${JSON.stringify(configModule)});
    const backend = new EmbeddedBackend(loadConfig({ HERALD_MAX_AGE_SECONDS: "1" }));
    await backend.start();
    await backend.publish({ topic: "t", data: "1" });
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    stdio: "inherit",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  t.teardown(() => {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const code = await new Promise<number | null>((resolve) =>
    child.on("exit", (exitCode) => resolve(exitCode)),
  );
  t.is(code, 0);
});

test("heads of expired topics are remembered up to a bound; beyond it an unknown topic cannot claim nothing was lost", async (t) => {
  const backend = await backendWith({ HERALD_MAX_BYTES: String(1024 * 1024) });
  t.teardown(() => backend.close());
  const payload = JSON.stringify("y".repeat(200));
  const heads: number[] = [];
  for (let i = 0; i < 80_000; i++)
    heads.push((await backend.publish({ topic: `many.t${i}`, data: payload })).seq);
  // The oldest topics lost their messages to maxBytes; the most recently expired still know their head.
  let firstRetained = heads.length - 1;
  while (
    firstRetained > 0 &&
    (await backend.read(`many.t${firstRetained - 1}`, { last: 1 }, 1)).messages.length === 1
  )
    firstRetained--;
  t.true(firstRetained > 65_536, `${firstRetained} topics expired`);
  const recent = firstRetained - 1;
  t.like(await backend.read(`many.t${recent}`, { after: heads[recent]! }, 10), {
    recovered: true,
    head: heads[recent]!,
  });
  const next = await backend.publish({ topic: `many.t${recent}`, data: "1" });
  t.deepEqual(
    (await backend.read(`many.t${recent}`, { after: heads[recent]! }, 10)).messages.map((m) => m.prev),
    [heads[recent]!],
  );
  t.true(next.seq > heads[recent]!);
  // The oldest forgotten heads were dropped: those positions and unknown topics are not provably complete.
  t.like(await backend.read("many.t0", { after: heads[0]! }, 10), { recovered: false, head: 0 });
  t.like(await backend.read("never.used", { after: 0 }, 10), { recovered: false, head: 0 });
});
