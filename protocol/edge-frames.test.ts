// Edge → client frames: what the edge encodes, the client decodes to the same frames, one by one or
// batched; and the client refuses, with a clear message, anything that is not a herald.v1 frame.
import test from "ava";
import { decodeEdgeFrames, encodeEdgeFrame, encodeMsgFrame, BATCH_SEPARATOR } from "./edge-frames.js";
import type { EdgeFrame } from "./frames.js";

const frames: EdgeFrame[] = [
  {
    op: "welcome",
    session: "s-1",
    heartbeatMs: 25_000,
    limits: {
      maxFrameBytes: 65536,
      maxSubscriptions: 200,
      sendBufferBytes: 1 << 20,
      framesPerSecond: 100,
      publishesPerSecond: 50,
    },
  },
  { op: "subok", id: "s", topic: "a.b", epoch: "e1", seq: 41, recovered: true },
  { op: "subok", topic: "a.b", epoch: "e1", seq: 0, recovered: false },
  { op: "ack", id: 3 },
  { op: "ack", id: "p", seq: 42, dup: true },
  { op: "err", id: 4, code: "forbidden", message: "not allowed" },
  { op: "err", code: "rate_limited", message: "slow down\nplease" },
  { op: "reconnect", afterMs: 1500 },
];

test("each edge frame decodes to itself", (t) => {
  for (const frame of frames) t.deepEqual(decodeEdgeFrames(encodeEdgeFrame(frame)), [frame]);
});

test("msg frames built around pre-serialized data decode to the message", (t) => {
  const values = [
    null,
    0,
    -1.5,
    'text with "quotes", \\ and a\nnewline',
    [1, [2, [3]]],
    { a: { b: [true, false] } },
    "\u2028\u2029é😀",
  ];
  for (const data of values) {
    const text = encodeMsgFrame("scores.football.match-42", 7, 5, JSON.stringify(data), 1_700_000_000_000);
    t.false(text.includes("\n"), "one frame is one line");
    t.deepEqual(decodeEdgeFrames(text), [
      { op: "msg", topic: "scores.football.match-42", seq: 7, prev: 5, data, ts: 1_700_000_000_000 },
    ]);
  }
});

test("a batch of frames separated by newlines decodes in order; empty lines are skipped", (t) => {
  const msg = encodeMsgFrame("a", 2, 1, '{"n":1}', 5);
  const batch = [...frames.map(encodeEdgeFrame), msg].join(BATCH_SEPARATOR) + BATCH_SEPARATOR;
  t.deepEqual(decodeEdgeFrames(batch), [
    ...frames,
    { op: "msg", topic: "a", seq: 2, prev: 1, data: { n: 1 }, ts: 5 },
  ]);
  t.deepEqual(decodeEdgeFrames(""), []);
  t.deepEqual(decodeEdgeFrames("\n\n"), []);
});

test("lines that are not herald.v1 edge frames are refused with a clear message", (t) => {
  const cases: [string, string][] = [
    ["garbage", 'herald: edge frame is not valid JSON: "garbage"'],
    ['{"op":"ack","id":1}\n{oops', 'herald: edge frame is not valid JSON: "{oops"'],
    ["null", "herald: unknown edge frame op undefined"],
    ["[]", "herald: unknown edge frame op undefined"],
    ['{"op":"nope"}', 'herald: unknown edge frame op "nope"'],
    ['{"op":"__proto__"}', 'herald: unknown edge frame op "__proto__"'],
    ['{"op":"sub","topic":"a"}', 'herald: unknown edge frame op "sub"'],
    [
      '{"op":"msg","topic":"a","seq":1,"prev":0,"ts":1}',
      "herald: malformed msg frame: /data Expected required property",
    ],
    ['{"op":"ack"}', "herald: malformed ack frame: /id Expected required property"],
    ['{"op":"err","code":"zzz","message":"m"}', "herald: malformed err frame: /code Expected union value"],
    [
      '{"op":"reconnect","afterMs":-1}',
      "herald: malformed reconnect frame: /afterMs Expected integer to be greater or equal to 0",
    ],
    [
      '{"op":"msg","topic":"a","seq":1e300,"prev":0,"data":1,"ts":1}',
      "herald: malformed msg frame: /seq Expected integer to be less or equal to 9007199254740991",
    ],
  ];
  for (const [text, message] of cases) t.throws(() => decodeEdgeFrames(text), { message }, text);
});
