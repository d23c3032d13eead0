// client/wire.ts, the SDK's frame types and checks generated from the protocol's schemas: up to
// date, and giving the same verdicts as the TypeBox schemas themselves on valid frames and on
// field-by-field mutations of them; and the SDK's decoder built on them.
import test from "ava";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { Value } from "@sinclair/typebox/value";
import { EDGE_FRAMES, ErrorBody, PublishResult, type TSchema } from "../protocol/frames.js";
import { EXAMPLES, mutate, mutations } from "../protocol/test/frame-samples.js";
import { renderWire, WIRE_PATH } from "./build/wire-codegen.js";
import { decodeEdgeFrames } from "./decode.js";
import * as wire from "./wire.js";

test("client/wire.ts is up to date with protocol/frames.ts", async (t) => {
  t.true(
    readFileSync(WIRE_PATH, "utf8") === (await renderWire()),
    "client/wire.ts is stale: run `npm run build:client` and commit it",
  );
});

test("the generated checks give TypeBox's verdicts on every edge frame and HTTP answer the SDK reads", (t) => {
  const pairs: [string, TSchema, wire.Check][] = [
    ["WelcomeFrame", EDGE_FRAMES.welcome, wire.checkWelcomeFrame],
    ["SubOkFrame", EDGE_FRAMES.subok, wire.checkSubOkFrame],
    ["MsgFrame", EDGE_FRAMES.msg, wire.checkMsgFrame],
    ["AckFrame", EDGE_FRAMES.ack, wire.checkAckFrame],
    ["ErrFrame", EDGE_FRAMES.err, wire.checkErrFrame],
    ["ReconnectFrame", EDGE_FRAMES.reconnect, wire.checkReconnectFrame],
    ["PublishResult", PublishResult, wire.checkPublishResult],
    ["ErrorBody", ErrorBody, wire.checkErrorBody],
  ];
  t.deepEqual(Object.keys(wire.EDGE_FRAME_CHECKS).sort(), Object.keys(EDGE_FRAMES).sort());
  for (const [name, schema, check] of pairs) {
    t.is(check(EXAMPLES[name]), undefined, name);
    let refused = 0;
    fc.assert(
      fc.property(mutations, (changes) => {
        const value = mutate(EXAMPLES[name], changes);
        const problem = check(value);
        if (problem !== undefined) refused++;
        return (problem === undefined) === Value.Check(schema, value);
      }),
      { seed: 9, numRuns: 500 },
    );
    t.true(refused > 10, `${name}: ${refused} of 500 mutations refused`);
  }
});

test("the decoder splits batches, skips unknown ops and refuses malformed known frames with a clear message", (t) => {
  const msg = '{"op":"msg","topic":"a","seq":2,"prev":1,"data":{"n":1},"ts":5}';
  t.deepEqual(decodeEdgeFrames(`${msg}\n{"op":"future","x":1}\n\n{"op":"ack","id":3,"extra":true}\n`), [
    { op: "msg", topic: "a", seq: 2, prev: 1, data: { n: 1 }, ts: 5 },
    { op: "ack", id: 3, extra: true },
  ] as unknown as wire.EdgeFrame[]);
  const cases: [string, string][] = [
    ["garbage", 'herald: edge frame is not valid JSON: "garbage"'],
    ["null", 'herald: edge frame is not a JSON object: "null"'],
    ["[]", 'herald: edge frame is not a JSON object: "[]"'],
    ['{"op":1}', "herald: edge frame without an op"],
    ['{"op":"msg","topic":"a","seq":1,"prev":0,"ts":1}', "herald: malformed msg frame: missing field 'data'"],
    ['{"op":"ack"}', "herald: malformed ack frame: missing field 'id'"],
    [
      '{"op":"err","code":"zzz","message":"m"}',
      "herald: malformed err frame: field 'code': expected a known value",
    ],
    [
      '{"op":"reconnect","afterMs":-1}',
      "herald: malformed reconnect frame: field 'afterMs': expected an integer of at least 0",
    ],
    [
      '{"op":"msg","topic":"a","seq":1e300,"prev":0,"data":1,"ts":1}',
      "herald: malformed msg frame: field 'seq': expected an integer from 0 to 9007199254740991",
    ],
  ];
  for (const [text, message] of cases) t.throws(() => decodeEdgeFrames(text), { message }, text);
});
