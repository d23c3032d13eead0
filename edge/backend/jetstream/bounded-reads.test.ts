// Reads are bounded by the head they already know: a read of exactly the direct-get
// range and more must not wait out a consumer's fetch expiry for messages that do not exist, also
// when a live feed catches up after a NATS reconnect.
import test from "ava";
import { startNats } from "../../../e2e/harness/nats-server.js";
import { startTcpProxy } from "../../../e2e/harness/tcp-proxy.js";
import { Recorder, startBackend } from "../../../e2e/harness/jetstream-support.js";
import { waitFor } from "../../../e2e/harness/wait.js";
import type { StreamReader } from "./reader.js";

/** Well below the consumer fetch's 2 s expiry, well above a few local round trips. */
const PROMPT_MS = 700;

test("reads of 7, 8, 9 and 20 messages after a position answer promptly: no read waits out a fetch expiry", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  for (const count of [7, 8, 9, 20]) {
    const topic = `bounded.n${count}`;
    const first = await backend.publish({ topic, data: "0" });
    for (let i = 1; i <= count; i++) await backend.publish({ topic, data: String(i) });
    const started = Date.now();
    const read = await backend.read(topic, { after: first.seq }, 1000);
    const ms = Date.now() - started;
    t.is(read.messages.length, count);
    t.true(read.recovered);
    t.true(ms < PROMPT_MS, `${count} messages after a position took ${ms} ms`);
  }
});

test("a live feed catching up 8 messages after a NATS reconnect delivers them promptly", async (t) => {
  const nats = await startNats(t);
  const proxy = await startTcpProxy(t, { port: nats.port });
  const { backend } = await startBackend(t, proxy.url);
  const { backend: other } = await startBackend(t, nats.url);
  const recorder = new Recorder();
  await backend.live("reconnect.eight", recorder);
  await other.publish({ topic: "reconnect.eight", data: "0" });
  await waitFor("the first message", () => recorder.messages().length === 1);
  proxy.cut();
  await waitFor("state unavailable", () => backend.status().state === "unavailable");
  for (let i = 1; i <= 8; i++) await other.publish({ topic: "reconnect.eight", data: String(i) });
  proxy.restore();
  await waitFor("state ready", () => backend.status().state === "ready");
  const ready = Date.now();
  await waitFor("the 8 messages stored during the outage", () => recorder.messages().length === 9);
  const ms = Date.now() - ready;
  t.true(ms < PROMPT_MS, `the catch-up took ${ms} ms after the reconnect`);
});

test("a read is bounded by what it can deliver: beyond the head no page is read, an unrecovered position reads one message", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url, { HERALD_MAX_MSGS_PER_TOPIC: "10" });
  const reader = (backend as unknown as { reader: StreamReader }).reader;
  const reads: number[] = [];
  const after = reader.after.bind(reader);
  reader.after = (topic, from, limit, through) => {
    reads.push(limit);
    return after(topic, from, limit, through);
  };
  const seqs: number[] = [];
  for (let i = 0; i < 30; i++) seqs.push((await backend.publish({ topic: "amp", data: String(i) })).seq);
  const head = seqs.at(-1)!;

  t.like(await backend.read("amp", { after: head + 1000 }, 1000), { recovered: false, messages: [], head });
  t.like(await backend.read("amp", { after: head + 1000, orOldest: true }, 1000), { messages: [] });
  t.deepEqual(reads, [], "a position beyond the head reads no page");

  t.like(await backend.read("amp", { after: seqs[5]! }, 1000), { recovered: false, messages: [] });
  t.deepEqual(reads, [1], "an unrecovered position costs the one message that decides it");

  reads.length = 0;
  const oldest = await backend.read("amp", { after: seqs[5]!, orOldest: true }, 1000);
  t.false(oldest.recovered);
  t.deepEqual(
    oldest.messages.map((m) => m.seq),
    seqs.slice(20),
  );
  const recovered = await backend.read("amp", { after: seqs[25]! }, 1000);
  t.true(recovered.recovered);
  t.deepEqual(
    recovered.messages.map((m) => m.seq),
    seqs.slice(26),
  );
});
