// Seeded, bounded property tests of the frame parser and of topics and patterns, each checked
// against an independent reference written here from docs/design.md#vocabulary (not from the code under test).
// Runs are reproducible: a failure prints its counterexample, and the same seed finds it again.
import test from "ava";
import fc from "fast-check";
import { decodeEdgeFrames, encodeMsgFrame } from "./edge-frames.js";
import { parseClientFrame } from "./parse-client-frame.js";
import { patternProblem, topicMatches, topicProblem } from "./topic.js";

const SEED = 20261125;
const RUNS = 1_000;
const run = <T>(property: fc.IPropertyWithHooks<T> | fc.IProperty<T>) =>
  fc.assert(property, { seed: SEED, numRuns: RUNS });

// ---- references (docs/design.md#vocabulary) ----
const TOPIC_RE = /^[A-Za-z0-9_\-:@=+]{1,64}(\.[A-Za-z0-9_\-:@=+]{1,64}){0,7}$/;
const refTopic = (s: string) => TOPIC_RE.test(s) && Buffer.byteLength(s) <= 255;

const PATTERN_RE = /^([A-Za-z0-9_\-:@=+]{1,64}|\*)(\.([A-Za-z0-9_\-:@=+]{1,64}|\*)){0,7}$/;
const refPattern = (s: string) =>
  s.length <= 255 &&
  (s === ">"
    ? true
    : s.endsWith(".>")
      ? s.split(".").length <= 8 && PATTERN_RE.test(s.slice(0, -2))
      : PATTERN_RE.test(s));

/** NATS semantics as a regular expression: `*` one token, `>` one or more trailing tokens. */
function refMatches(pattern: string, topic: string): boolean {
  const source = pattern
    .split(".")
    .map((token) =>
      token === "*"
        ? "[^.]+"
        : token === ">"
          ? "[^.]+(\\.[^.]+)*"
          : token.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
    )
    .join("\\.");
  return new RegExp(`^${source}$`).test(topic);
}

const isSafeIndex = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isString = (v: unknown, min: number, max = Infinity) =>
  typeof v === "string" && v.length >= min && v.length <= max;
const isRequestId = (v: unknown) => isString(v, 1, 64) || isSafeIndex(v);
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const hasExactly = (v: Record<string, unknown>, keys: string[]) =>
  Object.keys(v).length === keys.length && keys.every((k) => Object.hasOwn(v, k));
const finite = (v: unknown): boolean =>
  typeof v === "number"
    ? Number.isFinite(v)
    : typeof v === "object" && v !== null
      ? Object.values(v).every(finite)
      : true;
const depth = (v: unknown): number =>
  typeof v === "object" && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depth)) : 0;

const FIELDS: Record<string, { required: string[]; optional: string[] }> = {
  sub: { required: ["topic"], optional: ["id", "from"] },
  unsub: { required: ["topic"], optional: ["id"] },
  pub: { required: ["topic", "data", "id"], optional: ["msgId"] },
  auth: { required: ["token"], optional: ["id"] },
  ping: { required: [], optional: ["id"] },
};

/** msgId characters: printable ASCII without space, 0x21 to 0x7E. */
function printableAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

const msgIdChar = fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code));

/** Whether a parsed JSON value is a valid herald.v1 client frame. */
function refValidFrame(v: unknown): boolean {
  if (!isPlainObject(v) || typeof v.op !== "string" || !Object.hasOwn(FIELDS, v.op)) return false;
  const { required, optional } = FIELDS[v.op]!;
  const keys = Object.keys(v);
  if (!keys.every((k) => k === "op" || required.includes(k) || optional.includes(k))) return false;
  if (!required.every((k) => Object.hasOwn(v, k))) return false;
  if (Object.hasOwn(v, "id") && !isRequestId(v.id)) return false;
  if (Object.hasOwn(v, "topic") && !(typeof v.topic === "string" && refTopic(v.topic))) return false;
  if (Object.hasOwn(v, "msgId") && !(isString(v.msgId, 1, 128) && printableAscii(v.msgId as string)))
    return false;
  if (Object.hasOwn(v, "token") && !isString(v.token, 1)) return false;
  if (Object.hasOwn(v, "data") && (depth(v.data) > 64 || !finite(v.data))) return false;
  if (Object.hasOwn(v, "from")) {
    const from = v.from;
    if (!isPlainObject(from)) return false;
    const position =
      hasExactly(from, ["epoch", "seq"]) && isString(from.epoch, 1, 128) && isSafeIndex(from.seq);
    const last = hasExactly(from, ["last"]) && isSafeIndex(from.last) && (from.last as number) <= 100_000;
    if (!position && !last) return false;
  }
  return true;
}

// ---- generators ----
const CHARS = ["a", "b", "Z", "0", "_", "-", ":", "@", "=", "+", ".", "*", ">", " ", "é", "/", "\u0000"];
/** Short strings over an alphabet where valid and invalid topics are both common. */
const topicish = fc.array(fc.constantFrom(...CHARS), { maxLength: 12 }).map((chars) => chars.join(""));
const validToken = fc.stringMatching(/^[A-Za-z0-9_\-:@=+]{1,64}$/);
const validTopic = fc
  .array(validToken, { minLength: 1, maxLength: 8 })
  .map((t) => t.join("."))
  .filter((t) => t.length <= 255);
/** Topics and patterns over a tiny vocabulary, so that matches are frequent. */
const smallTopic = fc
  .array(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 5 })
  .map((t) => t.join("."));
const smallPattern = fc
  .tuple(fc.array(fc.constantFrom("a", "b", "*"), { minLength: 0, maxLength: 5 }), fc.boolean())
  .map(([tokens, tail]) => [...tokens, ...(tail || tokens.length === 0 ? [">"] : [])].join("."));

/** Arrays and objects nested up to `max` levels (the limit is 64). */
const nestedUpTo = (max: number) =>
  fc.nat({ max }).map((levels) => {
    let value: unknown = 0;
    for (let i = 0; i < levels; i++) value = i % 2 ? { k: value } : [value];
    return value;
  });
const nested = nestedUpTo(80);
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  nested,
  fc.nat(),
  fc.constantFrom(
    -1,
    1.5,
    1e300,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    "",
    "x".repeat(65),
    "x".repeat(129),
  ),
  topicish,
  validTopic,
  fc.record({ epoch: fc.string({ maxLength: 3 }), seq: fc.oneof(fc.nat(), fc.constant(-1)) }),
  fc.record({ last: fc.oneof(fc.nat({ max: 100_001 }), fc.constant(-1)) }),
);
const optionalId = fc.option(fc.oneof(fc.string({ minLength: 1, maxLength: 64 }), fc.nat()), {
  nil: undefined,
});
const optionalFrom = fc.option(
  fc.oneof(
    fc.record({ epoch: fc.string({ minLength: 1, maxLength: 128 }), seq: fc.maxSafeNat() }),
    fc.record({ last: fc.nat({ max: 100_000 }) }),
  ),
  { nil: undefined },
);
/** Valid client frames, every op and optional field. */
const validFrame = fc.oneof(
  fc.record({ op: fc.constant("sub"), topic: validTopic, id: optionalId, from: optionalFrom }),
  fc.record({ op: fc.constant("unsub"), topic: validTopic, id: optionalId }),
  fc.record({
    op: fc.constant("pub"),
    topic: validTopic,
    data: fc.oneof(fc.jsonValue({ maxDepth: 5 }), nestedUpTo(64)),
    id: fc.oneof(fc.string({ minLength: 1, maxLength: 64 }), fc.nat()),
    msgId: fc.option(fc.string({ unit: msgIdChar, minLength: 1, maxLength: 128 }), { nil: undefined }),
  }),
  fc.record({ op: fc.constant("auth"), token: fc.string({ minLength: 1 }), id: optionalId }),
  fc.record({ op: fc.constant("ping"), id: optionalId }),
);

const KEYS = [
  "op",
  "topic",
  "id",
  "from",
  "data",
  "msgId",
  "token",
  "__proto__",
  "constructor",
  "prototype",
  "extra",
];
const opValue = fc.oneof(
  fc.constantFrom("sub", "unsub", "pub", "auth", "ping"),
  fc.constantFrom("SUB", "", "__proto__", "constructor", "toString", "msg"),
  fc.string({ maxLength: 5 }),
);
/** One change to a valid frame: a field removed, or set (added) to any value. */
const mutation = fc.oneof(
  fc.record({ remove: fc.constantFrom(...KEYS) }),
  fc.record({ set: fc.constantFrom(...KEYS), value: fc.oneof(anyValue, opValue) }),
);
/**
 * JSON text of a valid frame after 0-3 mutations, written key by key so that __proto__ and
 * duplicate keys reach the parser verbatim. Close to valid, so every check of the parser is hit.
 */
const frameLikeText = fc.tuple(validFrame, fc.array(mutation, { maxLength: 3 })).map(([frame, mutations]) => {
  let entries: [string, unknown][] = Object.entries(frame).filter(([, v]) => v !== undefined);
  for (const m of mutations) {
    if ("remove" in m) entries = entries.filter(([k]) => k !== m.remove);
    else entries = [...entries.filter(([k]) => k !== m.set), [m.set, m.value]];
  }
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`;
});

// ---- the frame parser ----
function checkParser(text: string): void {
  const result = parseClientFrame(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    if (result.ok || !result.fatal || result.message !== "frame is not valid JSON")
      throw new Error("non-JSON not refused as fatal");
    return;
  }
  const valid = refValidFrame(value);
  if (result.ok) {
    if (!valid) throw new Error(`accepted an invalid frame: ${text.slice(0, 200)}`);
    if (JSON.stringify(result.frame) !== JSON.stringify(value))
      throw new Error("accepted frame differs from the input");
    return;
  }
  if (valid) throw new Error(`refused a valid frame (${result.message}): ${text.slice(0, 200)}`);
  if (result.fatal !== !isPlainObject(value)) throw new Error(`wrong fatality for ${text.slice(0, 200)}`);
  if (result.message.length === 0 || !["invalid_frame", "invalid_topic"].includes(result.code))
    throw new Error("bad refusal");
  if (result.id !== undefined && !isRequestId(result.id)) throw new Error("echoed an invalid id");
  if ((Object.prototype as Record<string, unknown>).polluted !== undefined)
    throw new Error("prototype polluted");
}

test("the frame parser never throws on arbitrary text", (t) => {
  run(fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => void checkParser(text)));
  run(fc.property(fc.json({ maxDepth: 4 }), (text) => void checkParser(text)));
  t.pass();
});

test("the frame parser accepts exactly the valid frames (reference validator)", (t) => {
  run(fc.property(frameLikeText, (text) => void checkParser(text)));
  t.pass();
});

test("frames valid by construction are accepted unchanged", (t) => {
  run(
    fc.property(validFrame, (f) => {
      const text = JSON.stringify(f);
      const result = parseClientFrame(text);
      return result.ok && JSON.stringify(result.frame) === text;
    }),
  );
  t.pass();
});

// ---- topics and patterns ----
test("topic validity agrees with the reference regex", (t) => {
  run(fc.property(fc.oneof(topicish, validTopic), (s) => (topicProblem(s) === undefined) === refTopic(s)));
  run(fc.property(validTopic, (s) => topicProblem(s) === undefined));
  t.pass();
});

test("pattern validity agrees with the reference regex", (t) => {
  run(
    fc.property(fc.oneof(topicish, smallPattern), (s) => (patternProblem(s) === undefined) === refPattern(s)),
  );
  t.pass();
});

test("matching agrees with the NATS reference on a small vocabulary", (t) => {
  run(fc.property(smallPattern, smallTopic, (p, topic) => topicMatches(p, topic) === refMatches(p, topic)));
  t.pass();
});

test("a topic matches itself; > matches every topic longer than its prefix; * exactly one token", (t) => {
  run(
    fc.property(validTopic, fc.nat(), (topic, n) => {
      const tokens = topic.split(".");
      const k = n % tokens.length;
      const prefix = tokens.slice(0, k);
      const star = tokens.map((token, i) => (i === k ? "*" : token));
      return (
        topicMatches(topic, topic) &&
        topicMatches([...prefix, ">"].join("."), topic) &&
        (tokens.length === 8 || !topicMatches(`${topic}.>`, topic)) &&
        topicMatches(star.join("."), topic) &&
        (tokens.length === 8 || !topicMatches(star.join("."), `${topic}.x`)) &&
        (tokens.length === 1 || !topicMatches(star.join("."), tokens.slice(0, -1).join(".")))
      );
    }),
  );
  t.pass();
});

// ---- edge frames ----
test("msg frames round-trip for any data, topic and position, alone or batched", (t) => {
  const msg = fc.record({
    topic: validTopic,
    seq: fc.maxSafeNat(),
    prev: fc.maxSafeNat(),
    data: fc.jsonValue({ maxDepth: 5 }),
    ts: fc.nat(),
  });
  run(
    fc.property(fc.array(msg, { minLength: 1, maxLength: 4 }), (messages) => {
      const text = messages
        .map((m) => encodeMsgFrame(m.topic, m.seq, m.prev, JSON.stringify(m.data), m.ts))
        .join("\n");
      const expected = messages.map((m) => ({ op: "msg", ...m }));
      return JSON.stringify(decodeEdgeFrames(text)) === JSON.stringify(expected);
    }),
  );
  t.pass();
});
