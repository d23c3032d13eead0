// Epoch before delivery (docs/design.md#why-the-epoch-is-confirmed-before-delivery): no message is
// delivered under an epoch it does not belong to, and an edge that sees a message it cannot place
// in the current epoch confirms the epoch before delivering it. The stream is deleted and
// re-created behind the edge's back; another edge publishes into the new one.
import test from "ava";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startNats } from "../../../e2e/harness/nats-server.js";
import { chainProblem, Recorder, startBackend } from "../../../e2e/harness/jetstream-support.js";
import { sleep, waitFor } from "../../../e2e/harness/wait.js";

/** The feed's events after the old stream's messages: every message must come after a reset to `epoch`. */
function afterOld(recorder: Recorder, old: number, epoch: string) {
  const events = recorder.events.slice(old);
  const reset = events.findIndex((e) => "reset" in e && e.reset.epoch === epoch);
  const before = (reset < 0 ? events : events.slice(0, reset)).filter((e) => "message" in e);
  const messages = events.slice(reset + 1).flatMap((e) => ("message" in e ? [e.message] : []));
  return { reset, before, messages };
}

async function recreate(url: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    await (await jetstreamManager(nc)).streams.delete("HERALD");
  } finally {
    await nc.close();
  }
}

for (const [name, firstTopic] of [
  ["its seq passes the old head with another prev", "other"],
  ["its seq and prev continue the old chain exactly", "e"],
] as const) {
  test(`a message of a re-created stream is never delivered under the old epoch, nor twice (${name})`, async (t) => {
    const nats = await startNats(t);
    const { backend } = await startBackend(t, nats.url);
    const recorder = new Recorder();
    await backend.live("e", recorder);
    for (let i = 0; i < 3; i++) await backend.publish({ topic: "e", data: `old-${i}` });
    await waitFor("the old messages", () => recorder.messages().length === 3);
    const oldEpoch = backend.epoch();
    // The periodic stream probe has just run (it does every 5 s): a check this recent must not
    // excuse the edge from confirming the epoch when it sees what it cannot place.
    await (backend as unknown as { probeStream(): Promise<void> }).probeStream();

    await recreate(nats.url);
    const { backend: fresh } = await startBackend(t, nats.url);
    t.not(fresh.epoch(), oldEpoch);
    // First to another topic (so that "e" continues past the old head with prev 0), or straight
    // to "e" (seqs 1, 2, 3, then 4 with prev 3: the old chain's continuation to the letter).
    for (let i = 0; i < 3; i++) await fresh.publish({ topic: firstTopic, data: `filler-${i}` });
    for (let i = 0; i < 3; i++) await fresh.publish({ topic: "e", data: `new-${i}` });
    const all =
      firstTopic === "e"
        ? ["filler-0", "filler-1", "filler-2", "new-0", "new-1", "new-2"]
        : ["new-0", "new-1", "new-2"];
    await waitFor("the new stream's messages after a reset", () => {
      const { reset, messages } = afterOld(recorder, 3, fresh.epoch());
      return reset >= 0 && messages.length >= all.length;
    });
    await sleep(300);
    const { before, messages } = afterOld(recorder, 3, fresh.epoch());
    t.deepEqual(before, [], "nothing delivered before the reset to the new epoch");
    t.deepEqual(
      messages.map((m) => m.data),
      all,
      "each new message once, in order",
    );
    t.is(chainProblem(messages, 0), undefined);
    t.is(backend.epoch(), fresh.epoch());
  });
}

test("a read served by a re-created stream the edge has not noticed yet is not labelled with the old epoch (the epoch is confirmed after the read)", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  await backend.publish({ topic: "r", data: "old" });
  const oldEpoch = backend.epoch();
  await (backend as unknown as { probeStream(): Promise<void> }).probeStream();
  await recreate(nats.url);
  const { backend: fresh } = await startBackend(t, nats.url);
  const seqs: number[] = [];
  for (let i = 0; i < 5; i++) seqs.push((await fresh.publish({ topic: "r", data: `new-${i}` })).seq);
  const read = await backend.read("r", { after: seqs[1]! }, 100);
  t.not(read.epoch, oldEpoch);
  if (read.messages.length > 0) t.is(read.epoch, fresh.epoch(), "messages only under their own epoch");
  t.is(backend.epoch(), fresh.epoch());
});

test("the first message of a topic (prev 0) on a feed at 0 is not taken for the old epoch's when the stream was re-created (found by the guarantee checker)", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  await backend.publish({ topic: "other", data: "0" });
  const recorder = new Recorder();
  await backend.live("fresh", recorder);
  const oldEpoch = backend.epoch();
  await (backend as unknown as { probeStream(): Promise<void> }).probeStream();
  await recreate(nats.url);
  const { backend: fresh } = await startBackend(t, nats.url);
  await fresh.publish({ topic: "other", data: "1" });
  await fresh.publish({ topic: "fresh", data: '"new"' });
  await waitFor("the new message", () => recorder.messages().length > 0, 10_000);
  const { before, messages } = afterOld(recorder, 0, fresh.epoch());
  t.not(fresh.epoch(), oldEpoch);
  t.deepEqual(before, [], "nothing delivered before the reset to the new epoch");
  t.deepEqual(
    messages.map((m) => m.data),
    ['"new"'],
  );
});

test("a read from the start on an edge that has not seen the stream re-created yet is answered in the new epoch, with its messages", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  await backend.publish({ topic: "h", data: "old" });
  const oldEpoch = backend.epoch();
  await recreate(nats.url);
  const { backend: fresh } = await startBackend(t, nats.url);
  const stored = await fresh.publish({ topic: "h", data: "new" });
  for (const from of [{ after: 0, orOldest: true }, { last: 5 }] as const) {
    const read = await backend.read("h", from, 10);
    t.not(read.epoch, oldEpoch, JSON.stringify(from));
    t.like(read, { epoch: fresh.epoch(), recovered: true }, JSON.stringify(from));
    t.deepEqual(
      read.messages.map((m) => [m.seq, m.data]),
      [[stored.seq, "new"]],
      JSON.stringify(from),
    );
  }
});
