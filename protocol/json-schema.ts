// The JSON Schema (2020-12) of every herald.v1 frame and HTTP body, generated from the TypeBox
// schemas of frames.ts, which stay the one definition: a TypeBox schema is a JSON Schema already,
// so this only names the exported ones ($defs) and refers to them where they are reused ($ref).
// Written to docs/protocol.schema.json (`npm run build:schema`; a test fails when it is stale) for
// clients in other languages, and read by the SDK's build to generate its validators and types.
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Kind, type TSchema } from "@sinclair/typebox";
import * as prettier from "prettier";
import * as frames from "./frames.js";

export const SCHEMA_PATH = fileURLToPath(new URL("../docs/protocol.schema.json", import.meta.url));

/** A JSON Schema node, as plain JSON (TypeBox's symbol keys are gone). */
export type JsonSchema = { [key: string]: unknown };

export interface ProtocolJsonSchema extends JsonSchema {
  $defs: Record<string, JsonSchema>;
}

/** What each named definition is, for readers of the schema file (docs/protocol.md explains more). */
const DESCRIPTIONS: Record<string, string> = {
  RequestId: "Chosen by the client, echoed in the reply (ack, err, subok).",
  Topic: "1-8 dot-separated tokens of [A-Za-z0-9_-:@=+]{1,64}, at most 255 bytes; no wildcards.",
  Epoch: "Identity of the stream's history; positions of another epoch are void.",
  Seq: "A message's sequence number: strictly increasing per topic, shared by all topics of a stream (not contiguous per topic).",
  Data: "Any JSON value (at most 64 levels deep, numbers within the range of a double).",
  MsgId: "Deduplication id of a publish, scoped to its topic, within the stream's duplicate window.",
  FromPosition: "Resume after this position: the next message delivered has prev == seq.",
  FromLast: "The last `last` retained messages of the topic, then live ones.",
  From: "Where a subscription starts; absent: live only.",
  SubFrame: "client → edge: subscribe to one topic.",
  UnsubFrame: "client → edge: end the subscription to one topic.",
  PubFrame: "client → edge: publish (needs publish rights); answered by ack {seq, dup}.",
  AuthFrame: "client → edge: first authentication, or a token refresh before exp.",
  PingFrame: "client → edge: application-level ping; answered by ack.",
  Limits: "The connection's limits, announced in welcome.",
  WelcomeFrame: "edge → client: the first frame of every connection.",
  SubOkFrame:
    "edge → client: the subscription is in force; the next message on it has prev == seq. recovered:false: the asked position could not be honoured and delivery continues from the head.",
  MsgFrame:
    "edge → client: one message. prev is the seq of the topic's previous message: accept it only when prev equals the last seq accepted on the topic. ts: when it was stored, ms since the Unix epoch.",
  AckFrame: "edge → client: reply to a request with an id (pub: seq and dup).",
  ErrorCode: "Error codes of err frames and HTTP error bodies.",
  ErrFrame: "edge → client: a request was refused; the connection stays open.",
  ReconnectFrame: "edge → client: the edge is draining; reconnect (anywhere) after afterMs and resume.",
  PublishItem: "POST /v1/publish: one message.",
  PublishBody: "POST /v1/publish body: one message or a batch of up to 1000.",
  PublishResult: "POST /v1/publish answer per message.",
  HistoryMessage: "One message of GET /v1/topics/:topic/messages.",
  HistoryResponse: "GET /v1/topics/:topic/messages answer.",
  ErrorBody: "Every HTTP error response.",
  SseClose:
    "GET /v1/sse: data of the `close` event the edge sends before it ends a stream (the WebSocket close code and reason).",
  ClientFrame: "Any client → edge frame, by op.",
  EdgeFrame: "Any edge → client frame, by op.",
};

function isSchema(value: unknown): value is TSchema {
  return typeof value === "object" && value !== null && Kind in value;
}

/** The exported schemas of frames.ts by name ("ErrorCodeSchema" is named ErrorCode). */
function namedSchemas(): Map<TSchema, string> {
  const names = new Map<TSchema, string>();
  for (const [name, value] of Object.entries(frames)) {
    if (isSchema(value) && !names.has(value)) names.set(value, name.replace(/Schema$/, ""));
  }
  return names;
}

/**
 * The name of a schema used as a property: itself or an equal copy (Type.Optional(X) is a copy of X).
 * Equal named schemas (Epoch and MsgId) are told apart by the property's name.
 */
function nameOf(schema: TSchema, field: string | undefined, names: Map<TSchema, string>): string | undefined {
  const exact = names.get(schema);
  if (exact !== undefined) return exact;
  const text = JSON.stringify(schema);
  const equal = [...names].filter(([named]) => JSON.stringify(named) === text).map(([, name]) => name);
  if (equal.length <= 1) return equal[0];
  return equal.find((name) => name.toLowerCase() === field?.toLowerCase()) ?? equal[0];
}

/** `schema` as plain JSON, with every named schema below the top replaced by a $ref to it. */
function toJson(schema: TSchema, names: Map<TSchema, string>, field?: string): JsonSchema {
  if (field !== "") {
    const name = nameOf(schema, field, names);
    if (name !== undefined) return { $ref: `#/$defs/${name}` };
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "properties") {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, TSchema>).map(([name, sub]) => [
          name,
          toJson(sub, names, name),
        ]),
      );
    } else if (key === "anyOf") {
      out.anyOf = (value as TSchema[]).map((sub) => toJson(sub, names));
    } else if (key === "items") {
      out.items = toJson(value as TSchema, names);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** The whole document: every named schema under $defs, and ClientFrame / EdgeFrame as unions by op. */
export function protocolJsonSchema(): ProtocolJsonSchema {
  const names = namedSchemas();
  const $defs: Record<string, JsonSchema> = {};
  for (const [schema, name] of names) $defs[name] = toJson(schema, names, "");
  const byOp = (ops: Record<string, TSchema>): JsonSchema => ({
    oneOf: Object.values(ops).map((schema) => ({ $ref: `#/$defs/${names.get(schema)}` })),
  });
  $defs.ClientFrame = byOp(frames.CLIENT_FRAMES);
  $defs.EdgeFrame = byOp(frames.EDGE_FRAMES);
  for (const [name, def] of Object.entries($defs)) {
    const description = DESCRIPTIONS[name];
    if (description === undefined) throw new Error(`protocol/json-schema.ts: no description for ${name}`);
    $defs[name] = { description, ...def };
  }
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://herald.dev/schemas/herald.v1.json",
    title: "herald.v1",
    description:
      "Every frame of the herald.v1 WebSocket protocol (one JSON object per frame; edge frames may be batched one per line) and every body of Herald's HTTP API. Generated from protocol/frames.ts; explained in docs/protocol.md. Edge frames allow fields not listed here (a client ignores fields it does not know); client frames do not.",
    $defs,
  };
}

/** The document as written to docs/protocol.schema.json (formatted as the repository's other files). */
export async function renderProtocolJsonSchema(): Promise<string> {
  const options = await prettier.resolveConfig(SCHEMA_PATH);
  return prettier.format(JSON.stringify(protocolJsonSchema()), { ...options, filepath: SCHEMA_PATH });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(SCHEMA_PATH, await renderProtocolJsonSchema());
  console.log(`protocol schema: ${SCHEMA_PATH}`);
}
