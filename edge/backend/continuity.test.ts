// Continuity is proven by equality only (docs/design.md#why-continuity-is-proven-by-equality-only): both backends answer a read "after N" with
// recovered:true only when the first message's prev is N (or N is the head), also when retention
// emptied the topic in between. Each scenario runs on the embedded log and on JetStream.
import test from "ava";
import type { Backend } from "./backend.js";
import { BACKENDS } from "../../e2e/harness/backends.js";
import { waitFor } from "../../e2e/harness/wait.js";

const RETENTION = { HERALD_MAX_AGE_SECONDS: "1", HERALD_DUPLICATE_WINDOW_SECONDS: "1" };

async function agedOut(backend: Backend, topic: string): Promise<void> {
  await waitFor(
    `${topic} to age out`,
    async () => (await backend.read(topic, { last: 10 }, 10)).messages.length === 0,
    10_000,
  );
}

for (const [kind, start] of BACKENDS) {
  test(`${kind}: a message lost while away is not recovered when retention emptied the topic before the next one (prev < position proves nothing)`, async (t) => {
    const backend = await start(t, RETENTION);
    const a = await backend.publish({ topic: "aged", data: '"A"' });
    await backend.publish({ topic: "aged", data: '"B"' });
    await agedOut(backend, "aged");
    const c = await backend.publish({ topic: "aged", data: '"C"' });
    const read = await backend.read("aged", { after: a.seq, orOldest: true }, 100);
    t.false(read.recovered, "B was lost: the resume after A cannot be recovered");
    t.is(read.head, c.seq);
    t.deepEqual(
      read.messages.map((m) => m.data),
      ['"C"'],
    );
  });

  test(`${kind}: position 0 of a topic whose messages aged out is not recovered`, async (t) => {
    const backend = await start(t, RETENTION);
    await backend.publish({ topic: "zero", data: '"A"' });
    await agedOut(backend, "zero");
    t.false((await backend.read("zero", { after: 0 }, 100)).recovered, "before the next message");
    await backend.publish({ topic: "zero", data: '"B"' });
    t.false((await backend.read("zero", { after: 0 }, 100)).recovered, "after the next message");
  });

  test(`${kind}: positions that provably continue are recovered: the head, a retained seq, and 0 of a fresh log`, async (t) => {
    const backend = await start(t, {});
    t.true((await backend.read("fresh", { after: 0 }, 100)).recovered);
    const a = await backend.publish({ topic: "fresh", data: '"A"' });
    const b = await backend.publish({ topic: "fresh", data: '"B"' });
    t.true((await backend.read("fresh", { after: 0 }, 100)).recovered);
    const afterA = await backend.read("fresh", { after: a.seq }, 100);
    t.true(afterA.recovered);
    t.deepEqual(
      afterA.messages.map((m) => [m.seq, m.prev]),
      [[b.seq, a.seq]],
    );
    t.like(await backend.read("fresh", { after: b.seq }, 100), { recovered: true, messages: [] });
  });
}

for (const [kind, start] of BACKENDS) {
  test(`${kind}: an unrecovered position reads no messages unless the oldest are asked for, and one beyond the head none at all (a read is bounded by what it can deliver)`, async (t) => {
    const backend = await start(t, { HERALD_MAX_MSGS_PER_TOPIC: "3" });
    const seqs: number[] = [];
    for (let i = 0; i < 6; i++) seqs.push((await backend.publish({ topic: "bounded", data: String(i) })).seq);
    const head = seqs.at(-1)!;
    t.deepEqual(await backend.read("bounded", { after: seqs[0]! }, 100), {
      epoch: backend.epoch(),
      head,
      recovered: false,
      messages: [],
    });
    const oldest = await backend.read("bounded", { after: seqs[0]!, orOldest: true }, 100);
    t.false(oldest.recovered);
    t.deepEqual(
      oldest.messages.map((m) => [m.seq, m.prev]),
      [
        [seqs[3], seqs[2]],
        [seqs[4], seqs[3]],
        [seqs[5], seqs[4]],
      ],
    );
    for (const orOldest of [false, true])
      t.deepEqual(await backend.read("bounded", { after: head + 10, orOldest }, 100), {
        epoch: backend.epoch(),
        head,
        recovered: false,
        messages: [],
      });
  });
}

for (const [kind, start] of BACKENDS) {
  test(`${kind}: the position of a topic's last message that aged out, nothing lost after it: ${kind === "embedded" ? "recovered (the log keeps the topic's head)" : "not recovered, soundly (JetStream keeps no head for an emptied topic, so the next message's Herald-Prev 0 proves nothing)"}`, async (t) => {
    const backend = await start(t, RETENTION);
    const a = await backend.publish({ topic: "emptied", data: '"A"' });
    await agedOut(backend, "emptied");
    const b = await backend.publish({ topic: "emptied", data: '"B"' });
    const read = await backend.read("emptied", { after: a.seq }, 100);
    if (kind === "embedded") {
      t.true(read.recovered);
      t.deepEqual(
        read.messages.map((m) => [m.seq, m.prev]),
        [[b.seq, a.seq]],
      );
    } else {
      t.false(read.recovered);
      t.deepEqual(read.messages, []);
    }
  });
}
