// docs/protocol.schema.json: generated from frames.ts, up to date, and a JSON Schema that a standard
// validator (ajv, draft 2020-12) reads to the same verdicts as the TypeBox schemas themselves.
import test from "ava";
import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import fc from "fast-check";
import { Value } from "@sinclair/typebox/value";
import { CLIENT_FRAMES, EDGE_FRAMES, HistoryResponse, PublishBody, type TSchema } from "./frames.js";
import { protocolJsonSchema, renderProtocolJsonSchema, SCHEMA_PATH } from "./json-schema.js";
import { EXAMPLES, mutate, mutations } from "./test/frame-samples.js";

test("docs/protocol.schema.json is up to date with protocol/frames.ts", async (t) => {
  t.true(
    readFileSync(SCHEMA_PATH, "utf8") === (await renderProtocolJsonSchema()),
    "docs/protocol.schema.json is stale: run `npm run build:schema` and commit it",
  );
});

test("every frame and HTTP body has a named definition; reused parts are references", (t) => {
  const { $defs } = protocolJsonSchema();
  for (const name of [
    ...Object.keys(CLIENT_FRAMES).map((op) => `${op[0]!.toUpperCase()}${op.slice(1)}Frame`),
    "WelcomeFrame",
    "SubOkFrame",
    "MsgFrame",
    "AckFrame",
    "ErrFrame",
    "ReconnectFrame",
    "PublishBody",
    "PublishResult",
    "HistoryResponse",
    "ErrorBody",
    "ClientFrame",
    "EdgeFrame",
  ])
    t.truthy($defs[name], name);
  t.deepEqual(($defs.MsgFrame!.properties as Record<string, unknown>).seq, { $ref: "#/$defs/Seq" });
  t.deepEqual(($defs.PubFrame!.properties as Record<string, unknown>).msgId, { $ref: "#/$defs/MsgId" });
  t.deepEqual(($defs.SubOkFrame!.properties as Record<string, unknown>).epoch, { $ref: "#/$defs/Epoch" });
});

test("ajv reading the JSON Schema gives the same verdicts as TypeBox, frame by frame", (t) => {
  const ajv = new Ajv2020({ strict: false });
  ajv.addSchema(protocolJsonSchema(), "herald");
  const schemas: Record<string, TSchema> = {
    SubFrame: CLIENT_FRAMES.sub,
    UnsubFrame: CLIENT_FRAMES.unsub,
    PubFrame: CLIENT_FRAMES.pub,
    AuthFrame: CLIENT_FRAMES.auth,
    PingFrame: CLIENT_FRAMES.ping,
    WelcomeFrame: EDGE_FRAMES.welcome,
    SubOkFrame: EDGE_FRAMES.subok,
    MsgFrame: EDGE_FRAMES.msg,
    AckFrame: EDGE_FRAMES.ack,
    ErrFrame: EDGE_FRAMES.err,
    ReconnectFrame: EDGE_FRAMES.reconnect,
    PublishBody,
    HistoryResponse,
  };
  for (const [defName, schema] of Object.entries(schemas)) {
    const validate = ajv.getSchema(`herald#/$defs/${defName}`)!;
    t.truthy(validate, defName);
    t.true(Value.Check(schema, EXAMPLES[defName]) && validate(EXAMPLES[defName]), defName);
    let accepted = 0;
    fc.assert(
      fc.property(mutations, (changes) => {
        const value = mutate(EXAMPLES[defName], changes);
        const verdict = Value.Check(schema, value);
        if (verdict) accepted++;
        return validate(value) === verdict;
      }),
      { seed: 13, numRuns: 500 },
    );
    t.true(accepted > 20 && accepted < 480, `${defName}: ${accepted} of 500 mutations accepted`);
  }
});
