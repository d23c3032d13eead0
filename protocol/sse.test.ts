// Stream positions (the SSE event ids of /v1/sse): every list of positions encodes to an id that
// decodes to itself, for its own number of topics only; malformed ids are refused.
import test from "ava";
import fc from "fast-check";
import { decodeStreamPosition, encodeStreamPosition } from "./sse.js";

const epoch = fc.oneof(
  fc.constantFrom("6y2KUzrZnRMa69H8PugIAG", "e1", "a,b@c%d", "é😀"),
  fc.string({ minLength: 1, maxLength: 20 }),
);
const entry = fc.option(fc.record({ epoch, seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) }), {
  nil: undefined,
});

test("stream positions round-trip, and only for their own number of topics", (t) => {
  fc.assert(
    fc.property(fc.array(entry, { minLength: 1, maxLength: 12 }), (entries) => {
      const id = encodeStreamPosition(entries);
      if (/[\n\r]/.test(id)) return false;
      t.deepEqual(decodeStreamPosition(id, entries.length), entries);
      return decodeStreamPosition(id, entries.length + 1) === undefined;
    }),
    { seed: 5, numRuns: 300 },
  );
  t.is(
    encodeStreamPosition([
      { epoch: "E", seq: 41 },
      { epoch: "E", seq: 17 },
      undefined,
      { epoch: "F", seq: 5 },
    ]),
    "41@E,17,,5@F",
  );
});

test("malformed stream positions are refused", (t) => {
  for (const [id, topics] of [
    ["", 2],
    ["x", 1],
    ["5", 1],
    ["-1@e", 1],
    ["1.5@e", 1],
    ["99999999999999999@e", 1],
    ["1@e@f", 1],
    ["1@%E0", 1],
    [`1@${"e".repeat(129)}`, 1],
    ["1@e,2@f", 1],
  ] as const)
    t.is(decodeStreamPosition(id, topics), undefined, id);
  t.deepEqual(decodeStreamPosition(",", 2), [undefined, undefined]);
});
