// A msgId is scoped to its topic (docs/design.md#why-msgid-is-scoped-per-topic), alike on both
// backends: the same msgId on two topics is two messages; on one topic within the duplicate window
// it is one.
import test from "ava";
import { BACKENDS } from "../../e2e/harness/backends.js";

for (const [kind, start] of BACKENDS) {
  test(`${kind}: the same msgId on two topics stores both (dedupe is per topic, not stream-wide); on one topic it is a duplicate`, async (t) => {
    const backend = await start(t);
    const a = await backend.publish({ topic: "scope.a", data: '"a"', msgId: "event-1" });
    const b = await backend.publish({ topic: "scope.b", data: '"b"', msgId: "event-1" });
    t.false(b.dup, "another topic's msgId does not suppress this one");
    t.not(b.seq, a.seq);
    t.deepEqual(
      (await backend.read("scope.b", { after: 0 }, 10)).messages.map((m) => m.data),
      ['"b"'],
    );
    t.deepEqual(await backend.publish({ topic: "scope.a", data: '"a"', msgId: "event-1" }), {
      seq: a.seq,
      dup: true,
    });
    t.deepEqual(await backend.publish({ topic: "scope.b", data: '"b"', msgId: "event-1" }), {
      seq: b.seq,
      dup: true,
    });
    // A topic and msgId whose concatenations agree are still different pairs.
    const c = await backend.publish({ topic: "scope.ab", data: '"c"', msgId: "c" });
    const d = await backend.publish({ topic: "scope.a", data: '"d"', msgId: "bc" });
    t.false(d.dup);
    t.not(c.seq, d.seq);
  });
}
