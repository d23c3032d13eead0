// The edge's client-frame parser: every op accepted in every allowed shape, and every refusal with
// the exact code, message, fatality and echoed id the client receives.
import test from "ava";
import { parseClientFrame, type ParsedClientFrame } from "./parse-client-frame.js";
import { MAX_DATA_DEPTH } from "./json-depth.js";

const OPS = "expected one of sub, unsub, pub, auth, ping";

test("every op is accepted in every allowed shape, unchanged", (t) => {
  const frames = [
    { op: "sub", topic: "a.b" },
    { op: "sub", topic: "a.b", id: "s1" },
    { op: "sub", topic: "a.b", id: 0, from: { epoch: "e1", seq: 0 } },
    { op: "sub", topic: "a.b", from: { epoch: "e1", seq: Number.MAX_SAFE_INTEGER } },
    { op: "sub", topic: "a.b", from: { last: 0 } },
    { op: "sub", topic: "a.b", from: { last: 100_000 } },
    { op: "unsub", topic: "a.b" },
    { op: "unsub", topic: "a.b", id: 7 },
    { op: "pub", topic: "a.b", data: { x: [1, "two", null, true] }, id: 1 },
    { op: "pub", topic: "a.b", data: null, id: "p", msgId: "m-1" },
    { op: "pub", topic: "a.b", data: "text", id: Number.MAX_SAFE_INTEGER },
    { op: "auth", token: "eyJ.x.y" },
    { op: "auth", token: "t", id: "a" },
    { op: "ping" },
    { op: "ping", id: "x".repeat(64) },
  ];
  for (const frame of frames) {
    t.deepEqual(parseClientFrame(JSON.stringify(frame)), { ok: true, frame }, JSON.stringify(frame));
  }
});

test("data may nest up to the limit, not deeper, and holds only finite numbers", (t) => {
  const nested = (depth: number): unknown => (depth === 0 ? 1 : [nested(depth - 1)]);
  const ok = { op: "pub", topic: "a", id: 1, data: nested(MAX_DATA_DEPTH) };
  t.deepEqual(parseClientFrame(JSON.stringify(ok)), { ok: true, frame: ok });
  t.deepEqual(parseClientFrame(JSON.stringify({ ...ok, data: nested(MAX_DATA_DEPTH + 1) })), {
    ok: false,
    fatal: false,
    code: "invalid_frame",
    message: "pub frame: field 'data' nests deeper than 64 levels",
    id: 1,
  });
  // Numbers beyond the double range parse as ±Infinity, which JSON.stringify would store as null.
  for (const number of ["1e400", "-1e400", '[1, {"a": 2e308}]']) {
    t.deepEqual(
      parseClientFrame(`{"op":"pub","topic":"a","id":3,"data":${number}}`),
      {
        ok: false,
        fatal: false,
        code: "invalid_frame",
        message: "pub frame: field 'data' holds a number beyond the range of a double (about ±1.8e308)",
        id: 3,
      },
      number,
    );
  }
  t.like(parseClientFrame('{"op":"pub","topic":"a","id":3,"data":1.7976931348623157e308}'), { ok: true });
  // A whole frame of brackets: refused, not accepted to blow up a later JSON.stringify.
  const bomb = `{"op":"pub","topic":"a","id":2,"data":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
  t.like(parseClientFrame(bomb), {
    ok: false,
    message: "pub frame: field 'data' nests deeper than 64 levels",
    id: 2,
  });
});

const fatal = (message: string): ParsedClientFrame => ({
  ok: false,
  fatal: true,
  code: "invalid_frame",
  message,
});

test("text that is not a JSON object is fatal (the edge closes with 4400)", (t) => {
  t.deepEqual(parseClientFrame(""), fatal("frame is not valid JSON"));
  t.deepEqual(parseClientFrame("{"), fatal("frame is not valid JSON"));
  t.deepEqual(parseClientFrame("{'op':'ping'}"), fatal("frame is not valid JSON"));
  t.deepEqual(parseClientFrame('{"op":"ping"}\n{"op":"ping"}'), fatal("frame is not valid JSON"));
  t.deepEqual(parseClientFrame("\ufeff{}"), fatal("frame is not valid JSON"));
  for (const text of ["null", "[]", '[{"op":"ping"}]', "42", '"ping"', "true"]) {
    t.deepEqual(parseClientFrame(text), fatal("frame must be a JSON object"), text);
  }
});

type Refusal = [
  frame: string,
  code: "invalid_frame" | "invalid_topic",
  message: string,
  id?: string | number,
];

test("every wrong frame gets an err with the exact message, echoing a valid id", (t) => {
  const cases: Refusal[] = [
    ["{}", "invalid_frame", `missing op; ${OPS}`],
    ['{"op":7,"id":3}', "invalid_frame", `missing op; ${OPS}`, 3],
    ['{"op":"nope","id":"q"}', "invalid_frame", `unknown op "nope"; ${OPS}`, "q"],
    [`{"op":"${"x".repeat(100)}"}`, "invalid_frame", `unknown op "${"x".repeat(32)}"; ${OPS}`],
    ['{"op":"SUB","topic":"a"}', "invalid_frame", `unknown op "SUB"; ${OPS}`],
    ['{"op":"sub"}', "invalid_frame", "sub frame: missing field 'topic'"],
    ['{"op":"sub","topic":5,"id":1}', "invalid_frame", "sub frame: field 'topic': expected string", 1],
    ['{"op":"sub","topic":""}', "invalid_topic", "topic must not be empty"],
    [
      `{"op":"sub","topic":"${"a".repeat(256)}","id":4}`,
      "invalid_topic",
      "topic is longer than 255 bytes",
      4,
    ],
    [
      `{"op":"pub","topic":"${"a".repeat(256)}","data":1,"id":5}`,
      "invalid_topic",
      "topic is longer than 255 bytes",
      5,
    ],
    ['{"op":"sub","topic":"a","extra":1}', "invalid_frame", "sub frame: unknown field 'extra'"],
    ['{"op":"sub","topic":"a","id":-1}', "invalid_frame", "sub frame: field 'id' has an invalid value"],
    ['{"op":"sub","topic":"a","id":1.5}', "invalid_frame", "sub frame: field 'id' has an invalid value"],
    ['{"op":"sub","topic":"a","id":""}', "invalid_frame", "sub frame: field 'id' has an invalid value"],
    [
      `{"op":"sub","topic":"a","id":"${"i".repeat(65)}"}`,
      "invalid_frame",
      "sub frame: field 'id' has an invalid value",
    ],
    ['{"op":"sub","topic":"a","id":1e300}', "invalid_frame", "sub frame: field 'id' has an invalid value"],
    ['{"op":"sub","topic":"a","from":{}}', "invalid_frame", "sub frame: field 'from' has an invalid value"],
    ['{"op":"sub","topic":"a","from":null}', "invalid_frame", "sub frame: field 'from' has an invalid value"],
    [
      '{"op":"sub","topic":"a","from":{"epoch":"e"}}',
      "invalid_frame",
      "sub frame: field 'from' has an invalid value",
    ],
    [
      '{"op":"sub","topic":"a","from":{"epoch":"e","seq":-1}}',
      "invalid_frame",
      "sub frame: field 'from' has an invalid value",
    ],
    [
      '{"op":"sub","topic":"a","from":{"epoch":"e","seq":1e300}}',
      "invalid_frame",
      "sub frame: field 'from' has an invalid value",
    ],
    [
      '{"op":"sub","topic":"a","from":{"epoch":"","seq":1}}',
      "invalid_frame",
      "sub frame: field 'from' has an invalid value",
    ],
    [
      '{"op":"sub","topic":"a","from":{"last":100001}}',
      "invalid_frame",
      "sub frame: field 'from' has an invalid value",
    ],
    [
      '{"op":"sub","topic":"a","from":{"last":"5"}}',
      "invalid_frame",
      "sub frame: field 'from' has an invalid value",
    ],
    [
      '{"op":"sub","topic":"a","from":{"epoch":"e","seq":1,"last":3}}',
      "invalid_frame",
      "sub frame: field 'from' has an invalid value",
    ],
    [
      '{"op":"sub","topic":"a.*","id":9}',
      "invalid_topic",
      "topic must not contain wildcards (* or >); they are only allowed in entitlement patterns",
      9,
    ],
    [
      '{"op":"sub","topic":"a..b"}',
      "invalid_topic",
      "topic has an empty token (leading, trailing or double dot)",
    ],
    [
      '{"op":"unsub","topic":">"}',
      "invalid_topic",
      "topic must not contain wildcards (* or >); they are only allowed in entitlement patterns",
    ],
    ['{"op":"unsub"}', "invalid_frame", "unsub frame: missing field 'topic'"],
    ['{"op":"unsub","topic":"a","from":{"last":1}}', "invalid_frame", "unsub frame: unknown field 'from'"],
    ['{"op":"pub","topic":"a","id":1}', "invalid_frame", "pub frame: missing field 'data'", 1],
    ['{"op":"pub","topic":"a","data":1}', "invalid_frame", "pub frame: missing field 'id'"],
    [
      '{"op":"pub","topic":"a","data":1,"id":1,"msgId":""}',
      "invalid_frame",
      "pub frame: msgId must not be empty",
      1,
    ],
    [
      `{"op":"pub","topic":"a","data":1,"id":1,"msgId":"${"m".repeat(129)}"}`,
      "invalid_frame",
      "pub frame: msgId is longer than 128 characters",
      1,
    ],
    [
      '{"op":"pub","topic":"a","data":1,"id":1,"msgId":5}',
      "invalid_frame",
      "pub frame: msgId must be a string",
      1,
    ],
    ...["a\\r\\nb", "a\\nb", "two words", " padded", "caf\u00e9", "\\u0000"].map((msgId): Refusal => [
      `{"op":"pub","topic":"a","data":1,"id":1,"msgId":"${msgId}"}`,
      "invalid_frame",
      "pub frame: msgId may only contain printable ASCII characters other than space (! to ~; no spaces, control characters such as CR or LF, or non-ASCII)",
      1,
    ]),
    [
      '{"op":"pub","topic":"a b","data":1,"id":"p"}',
      "invalid_topic",
      "topic tokens may only contain A-Z a-z 0-9 _ - : @ = +",
      "p",
    ],
    ['{"op":"auth"}', "invalid_frame", "auth frame: missing field 'token'"],
    [
      '{"op":"auth","token":""}',
      "invalid_frame",
      "auth frame: field 'token': expected string length greater or equal to 1",
    ],
    ['{"op":"auth","token":{"alg":"none"}}', "invalid_frame", "auth frame: field 'token': expected string"],
    ['{"op":"auth","token":"t","topic":"a"}', "invalid_frame", "auth frame: unknown field 'topic'"],
    ['{"op":"ping","id":{}}', "invalid_frame", "ping frame: field 'id' has an invalid value"],
    ['{"op":"ping","id":null}', "invalid_frame", "ping frame: field 'id' has an invalid value"],
    ['{"op":"ping","data":1}', "invalid_frame", "ping frame: unknown field 'data'"],
  ];
  for (const [frame, code, message, id] of cases) {
    t.deepEqual(parseClientFrame(frame), { ok: false, fatal: false, code, message, id }, frame.slice(0, 80));
  }
});

test("__proto__ and constructor keys are refused and pollute no prototype", (t) => {
  const hostile = [
    ['{"op":"ping","__proto__":{"polluted":true}}', "ping frame: unknown field '__proto__'"],
    [
      '{"op":"ping","constructor":{"prototype":{"polluted":true}}}',
      "ping frame: unknown field 'constructor'",
    ],
    ['{"op":"sub","topic":"a","prototype":{"polluted":true}}', "sub frame: unknown field 'prototype'"],
    [
      '{"op":"sub","topic":"a","from":{"last":1,"__proto__":{"polluted":true}}}',
      "sub frame: field 'from' has an invalid value",
    ],
    ['{"op":"__proto__"}', `unknown op "__proto__"; ${OPS}`],
    ['{"op":"constructor"}', `unknown op "constructor"; ${OPS}`],
    ['{"op":"toString"}', `unknown op "toString"; ${OPS}`],
    ['{"op":"hasOwnProperty"}', `unknown op "hasOwnProperty"; ${OPS}`],
  ];
  for (const [frame, message] of hostile) {
    t.like(parseClientFrame(frame!), { ok: false, fatal: false, code: "invalid_frame", message }, frame);
  }
  // Inside data, such keys are just data: accepted as own properties, never as prototypes.
  const parsed = parseClientFrame(
    '{"op":"pub","topic":"a","id":1,"data":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}',
  );
  t.true(parsed.ok);
  if (parsed.ok && parsed.frame.op === "pub") {
    const data = parsed.frame.data as Record<string, unknown>;
    t.true(Object.hasOwn(data, "__proto__"));
    t.is(Object.getPrototypeOf(data), Object.prototype);
  }
  t.is(({} as Record<string, unknown>).polluted, undefined);
  t.is((Object.prototype as Record<string, unknown>).polluted, undefined);
  t.is({}.constructor, Object);
});
