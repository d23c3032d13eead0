// herald.v1 frames that are well-formed WebSocket text but hostile JSON: invalid or deeply nested
// documents, huge strings and arrays, prototype keys, unknown ops, wrong types, bad topics, floods.
import {
  CHARACTERS,
  DATA_TOO_DEEP,
  EMPTY_TOKEN,
  FRAME_NOT_READ,
  NOT_JSON_FRAME,
  OPS,
  WILDCARDS,
} from "../harness/expected-errors.js";
import {
  closeRow,
  errRow,
  openClient,
  postJson,
  rawDataOn,
  replyTo,
  row,
  withSeqChecked,
  type Row,
} from "./row.js";

const TOO_DEEP = `pub frame: ${DATA_TOO_DEEP}`;

const nestedArrays = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
const nestedObjects = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
const PROTOTYPE_NAMES = ["__proto__", "constructor", "prototype", "hasOwnProperty"];
const pub = (id: number | string, data: string, topic = "hostile.data") =>
  `{"op":"pub","topic":"${topic}","id":${JSON.stringify(id)},"data":${data}}`;

const PROTO_DATA = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}';
const BIG_FRAME = pub(6, JSON.stringify("x".repeat(100 * 1024)));
const HUGE_TOPIC = `{"op":"sub","topic":"${"a".repeat(100_000)}","id":8}`;
const overLimit = (frame: string) =>
  `frame of ${Buffer.byteLength(frame)} bytes is over the limit of 65536 bytes`;

export const frameRows: Row[] = [
  // Not JSON objects at all: the edge cannot tell what was meant and closes with 4400.
  closeRow("invalid JSON", ['{"op":"ping",'], { code: 4400, reason: NOT_JSON_FRAME }),
  closeRow("JSON with trailing garbage", ['{"op":"ping"} {"op":"ping"}'], {
    code: 4400,
    reason: NOT_JSON_FRAME,
  }),
  closeRow("empty text frame", [""], { code: 4400, reason: NOT_JSON_FRAME }),
  closeRow("NaN literal", ['{"op":"ping","id":NaN}'], { code: 4400, reason: NOT_JSON_FRAME }),
  closeRow("JSON array", ['[{"op":"ping"}]'], { code: 4400, reason: "frame must be a JSON object" }),
  closeRow("JSON null", ["null"], { code: 4400, reason: "frame must be a JSON object" }),
  closeRow("30,000 nested arrays as the frame", [nestedArrays(30_000)], {
    code: 4400,
    reason: "frame must be a JSON object",
  }),
  closeRow("binary frame", [Buffer.from('{"op":"ping","id":1}')], {
    code: 4400,
    reason: "binary frames are not accepted; send JSON text frames",
  }),

  // Deep nesting inside a frame: refused with err, the connection lives on.
  errRow("pub data nested 65 levels", pub(1, nestedArrays(65)), {
    id: 1,
    code: "invalid_frame",
    message: TOO_DEEP,
  }),
  errRow("pub data nested 30,000 levels", pub(2, nestedArrays(30_000)), {
    id: 2,
    code: "invalid_frame",
    message: TOO_DEEP,
  }),
  errRow("pub data of 5,000 nested objects", pub(3, nestedObjects(5_000)), {
    id: 3,
    code: "invalid_frame",
    message: TOO_DEEP,
  }),
  errRow("deep nesting in an unknown field", `{"op":"ping","id":4,"x":${nestedArrays(20_000)}}`, {
    id: 4,
    code: "invalid_frame",
    message: "ping frame: unknown field 'x'",
  }),
  errRow("deep nesting as from", `{"op":"sub","topic":"a.b","id":5,"from":${nestedObjects(10_000)}}`, {
    id: 5,
    code: "invalid_frame",
    message: "sub frame: field 'from' has an invalid value",
  }),
  errRow("deep nesting as id", `{"op":"ping","id":${nestedArrays(10_000)}}`, {
    code: "invalid_frame",
    message: "ping frame: field 'id' has an invalid value",
  }),

  // Huge strings and arrays: within the frame limit they are ordinary data; beyond it, refused whole.
  row(
    "60 KiB string as data (under the 64 KiB limit) is stored",
    { op: "ack", id: "big-string", dup: false, hasSeq: true },
    async ({ shared }) => {
      shared.send(pub("big-string", JSON.stringify("x".repeat(60 * 1024)), "hostile.big"));
      return withSeqChecked(await replyTo(shared, "big-string"));
    },
  ),
  row(
    "array of 30,000 numbers as data is stored",
    { op: "ack", id: "big-array", dup: false, hasSeq: true },
    async ({ shared }) => {
      shared.send(pub("big-array", JSON.stringify(new Array(30_000).fill(0)), "hostile.big"));
      return withSeqChecked(await replyTo(shared, "big-array"));
    },
  ),
  closeRow("100 KiB frame (between the limit and twice it)", [BIG_FRAME], {
    code: 4009,
    reason: overLimit(BIG_FRAME),
  }),
  closeRow(
    "200 KiB frame (beyond twice the limit: not even read)",
    [pub(7, JSON.stringify("x".repeat(200 * 1024)))],
    { code: 4009, reason: FRAME_NOT_READ },
  ),
  closeRow("100,000-character topic", [HUGE_TOPIC], { code: 4009, reason: overLimit(HUGE_TOPIC) }),

  // Prototype keys are ordinary unknown fields; they must neither pollute nor be accepted.
  errRow("__proto__ key in a frame", '{"op":"ping","id":10,"__proto__":{"id":"polluted","op":"sub"}}', {
    id: 10,
    code: "invalid_frame",
    message: "ping frame: unknown field '__proto__'",
  }),
  errRow(
    "constructor key in a frame",
    '{"op":"ping","id":11,"constructor":{"prototype":{"id":"polluted"}}}',
    { id: 11, code: "invalid_frame", message: "ping frame: unknown field 'constructor'" },
  ),
  errRow("prototype key in a frame", '{"op":"ping","id":12,"prototype":{"id":"polluted"}}', {
    id: 12,
    code: "invalid_frame",
    message: "ping frame: unknown field 'prototype'",
  }),
  errRow("__proto__ inside from", '{"op":"sub","topic":"a.b","id":13,"from":{"__proto__":{"last":1}}}', {
    id: 13,
    code: "invalid_frame",
    message: "sub frame: field 'from' has an invalid value",
  }),
  errRow("op named __proto__", '{"op":"__proto__","id":14}', {
    id: 14,
    code: "invalid_frame",
    message: `unknown op "__proto__"; ${OPS}`,
  }),
  errRow("op named constructor", '{"op":"constructor","id":15}', {
    id: 15,
    code: "invalid_frame",
    message: `unknown op "constructor"; ${OPS}`,
  }),
  errRow("op named toString", '{"op":"toString","id":16}', {
    id: 16,
    code: "invalid_frame",
    message: `unknown op "toString"; ${OPS}`,
  }),
  row(
    "data with __proto__ and constructor keys is stored and delivered verbatim, not merged",
    { ack: { op: "ack", id: "proto-data", dup: false, hasSeq: true }, deliveredData: PROTO_DATA },
    async (ctx) => {
      const reader = await openClient(ctx);
      await reader.subscribe("hostile.proto");
      ctx.shared.send(pub("proto-data", PROTO_DATA, "hostile.proto"));
      const ack = withSeqChecked(await replyTo(ctx.shared, "proto-data"));
      await reader.waitForMessages("hostile.proto", 1);
      return { ack, deliveredData: rawDataOn(reader, "hostile.proto")[0] };
    },
  ),
  row(
    "topics named __proto__, constructor, prototype and hasOwnProperty are ordinary topics",
    PROTOTYPE_NAMES.map((topic) => ({ topic, subokSeq: 0, delivered: [topic] })),
    async (ctx) => {
      const client = await openClient(ctx);
      for (const topic of PROTOTYPE_NAMES) await client.subscribe(topic);
      const published = await fetch(
        `${ctx.edge.url}/v1/publish`,
        postJson(
          PROTOTYPE_NAMES.map((topic) => ({ topic, data: topic })),
          { authorization: `Bearer ${ctx.apiKey}` },
        ),
      );
      if (published.status !== 200) throw new Error(`publish: ${published.status} ${await published.text()}`);
      const results = [];
      for (const topic of PROTOTYPE_NAMES) {
        const subok = client.frames.find((f) => f.op === "subok" && f.topic === topic) as { seq: number };
        results.push({
          topic,
          subokSeq: subok.seq,
          delivered: (await client.waitForMessages(topic, 1)).map((m) => m.data),
        });
      }
      return results;
    },
  ),

  row(
    "msgIds named __proto__ and constructor dedupe like any other",
    [
      { op: "ack", id: "m1", dup: false, hasSeq: true },
      { op: "ack", id: "m2", dup: true, hasSeq: true },
      { op: "ack", id: "m3", dup: false, hasSeq: true },
      { sameSeq: true },
    ],
    async ({ shared }) => {
      const first = await shared.request({
        op: "pub",
        topic: "hostile.msgid",
        data: 1,
        id: "m1",
        msgId: "__proto__",
      });
      const again = await shared.request({
        op: "pub",
        topic: "hostile.msgid",
        data: 1,
        id: "m2",
        msgId: "__proto__",
      });
      const other = await shared.request({
        op: "pub",
        topic: "hostile.msgid",
        data: 1,
        id: "m3",
        msgId: "constructor",
      });
      const seqOf = (frame: object) => (frame as { seq?: number }).seq;
      return [
        withSeqChecked(first),
        withSeqChecked(again),
        withSeqChecked(other),
        { sameSeq: seqOf(first) === seqOf(again) },
      ];
    },
  ),

  // Unknown ops and wrong types: err frames naming the problem; the id is echoed only when valid.
  errRow("unknown op", '{"op":"subscribe","topic":"a.b","id":20}', {
    id: 20,
    code: "invalid_frame",
    message: `unknown op "subscribe"; ${OPS}`,
  }),
  errRow("missing op", '{"topic":"a.b","id":21}', {
    id: 21,
    code: "invalid_frame",
    message: `missing op; ${OPS}`,
  }),
  errRow("op of the wrong type", '{"op":["sub"],"id":22}', {
    id: 22,
    code: "invalid_frame",
    message: `missing op; ${OPS}`,
  }),
  errRow("topic of the wrong type", '{"op":"sub","topic":{"a":1},"id":23}', {
    id: 23,
    code: "invalid_frame",
    message: "sub frame: field 'topic': expected string",
  }),
  errRow("id too long (not echoed)", `{"op":"ping","id":"${"i".repeat(65)}"}`, {
    code: "invalid_frame",
    message: "ping frame: field 'id' has an invalid value",
  }),
  errRow("negative id (not echoed)", '{"op":"ping","id":-1}', {
    code: "invalid_frame",
    message: "ping frame: field 'id' has an invalid value",
  }),
  errRow("id 1e400 (Infinity, not echoed)", '{"op":"ping","id":1e400}', {
    code: "invalid_frame",
    message: "ping frame: field 'id' has an invalid value",
  }),
  errRow(
    "pub with 1e400 in data (Infinity, would be stored as null)",
    '{"op":"pub","topic":"hostile.x","id":44,"data":[1,1e400]}',
    {
      id: 44,
      code: "invalid_frame",
      message: "pub frame: field 'data' holds a number beyond the range of a double (about ±1.8e308)",
    },
  ),
  errRow(
    "pub with 12345678901234567891 in data (a double would make it 12345678901234567000)",
    '{"op":"pub","topic":"hostile.x","id":45,"data":{"big":12345678901234567891}}',
    {
      id: 45,
      code: "invalid_frame",
      message:
        "pub frame: field 'data' holds the number 12345678901234567891, which a double cannot hold exactly (it would arrive as 12345678901234567000); send it as a string",
    },
  ),
  errRow(
    "pub with 1e-400 in data (a double would make it 0)",
    '{"op":"pub","topic":"hostile.x","id":46,"data":[1,1e-400]}',
    {
      id: 46,
      code: "invalid_frame",
      message:
        "pub frame: field 'data' holds the number 1e-400, which a double cannot hold exactly (it would arrive as 0); send it as a string",
    },
  ),
  row(
    "numbers a double holds exactly arrive with their value (the largest exact integer, 1.0, 1E2, 0.1)",
    {
      ack: { op: "ack", id: "exact", dup: false, hasSeq: true },
      deliveredData: "[9007199254740991,1,100,0.1]",
    },
    async (ctx) => {
      const reader = await openClient(ctx);
      await reader.subscribe("hostile.numbers");
      ctx.shared.send(pub("exact", "[9007199254740991,1.0,1E2,0.1]", "hostile.numbers"));
      const ack = withSeqChecked(await replyTo(ctx.shared, "exact"));
      await reader.waitForMessages("hostile.numbers", 1);
      return { ack, deliveredData: rawDataOn(reader, "hostile.numbers")[0] };
    },
  ),
  errRow("pub without data", '{"op":"pub","topic":"hostile.x","id":24}', {
    id: 24,
    code: "invalid_frame",
    message: "pub frame: missing field 'data'",
  }),
  errRow("msgId of the wrong type", '{"op":"pub","topic":"hostile.x","id":25,"data":1,"msgId":7}', {
    id: 25,
    code: "invalid_frame",
    message: "pub frame: msgId must be a string",
  }),
  errRow("from.last beyond its bound", '{"op":"sub","topic":"a.b","id":26,"from":{"last":100001}}', {
    id: 26,
    code: "invalid_frame",
    message: "sub frame: field 'from' has an invalid value",
  }),
  errRow("empty auth token", '{"op":"auth","token":"","id":28}', {
    id: 28,
    code: "invalid_frame",
    message: "auth frame: field 'token': expected string length greater or equal to 1",
  }),
  errRow(
    "unknown op with a newline and a lone surrogate (the reply stays one valid line)",
    '{"op":"a\\nb\\ud800","id":29}',
    { id: 29, code: "invalid_frame", message: `unknown op "a\\nb\\ud800"; ${OPS}` },
  ),
  errRow("auth token of the wrong type", '{"op":"auth","token":5,"id":27}', {
    id: 27,
    code: "invalid_frame",
    message: "auth frame: field 'token': expected string",
  }),

  // Topics: wildcards, empty tokens, length and character limits.
  errRow("topic with * wildcard", '{"op":"sub","topic":"a.*","id":30}', {
    id: 30,
    code: "invalid_topic",
    message: WILDCARDS,
  }),
  errRow("topic with > wildcard (pub)", '{"op":"pub","topic":"hostile.>","id":31,"data":1}', {
    id: 31,
    code: "invalid_topic",
    message: WILDCARDS,
  }),
  errRow("topic with a wildcard inside a token", '{"op":"sub","topic":"a.b*c","id":32}', {
    id: 32,
    code: "invalid_topic",
    message: WILDCARDS,
  }),
  errRow("topic with an empty token", '{"op":"sub","topic":"a..b","id":33}', {
    id: 33,
    code: "invalid_topic",
    message: EMPTY_TOKEN,
  }),
  errRow("topic with a leading dot", '{"op":"sub","topic":".a","id":34}', {
    id: 34,
    code: "invalid_topic",
    message: EMPTY_TOKEN,
  }),
  errRow("topic that is only a dot", '{"op":"unsub","topic":".","id":35}', {
    id: 35,
    code: "invalid_topic",
    message: EMPTY_TOKEN,
  }),
  errRow("empty topic", '{"op":"sub","topic":"","id":36}', {
    id: 36,
    code: "invalid_topic",
    message: "topic must not be empty",
  }),
  errRow(
    "topic of 256 bytes",
    JSON.stringify({ op: "sub", topic: `${"a".repeat(63)}.`.repeat(3) + "b".repeat(64), id: 37 }),
    { id: 37, code: "invalid_topic", message: "topic is longer than 255 bytes" },
  ),
  errRow(
    "pub to a topic of 10,000 bytes",
    JSON.stringify({ op: "pub", topic: "a".repeat(10_000), data: 1, id: 43 }),
    { id: 43, code: "invalid_topic", message: "topic is longer than 255 bytes" },
  ),
  errRow(
    "topic token of 65 characters",
    JSON.stringify({ op: "sub", topic: `a.${"t".repeat(65)}`, id: 38 }),
    { id: 38, code: "invalid_topic", message: "topic token is longer than 64 characters" },
  ),
  errRow("topic of 9 tokens", '{"op":"sub","topic":"a.b.c.d.e.f.g.h.i","id":39}', {
    id: 39,
    code: "invalid_topic",
    message: "topic has more than 8 dot-separated tokens",
  }),
  errRow("topic with a NUL character", '{"op":"sub","topic":"a.\\u0000","id":40}', {
    id: 40,
    code: "invalid_topic",
    message: CHARACTERS,
  }),
  errRow("topic with a non-ASCII look-alike", '{"op":"sub","topic":"scores.fοotball","id":41}', {
    id: 41,
    code: "invalid_topic",
    message: CHARACTERS,
  }),
  errRow("topic with a lone surrogate", '{"op":"sub","topic":"a.\\ud800","id":42}', {
    id: 42,
    code: "invalid_topic",
    message: CHARACTERS,
  }),

  // Rights and state.
  errRow("pub outside the token's rights", '{"op":"pub","topic":"other.topic","id":50,"data":1}', {
    id: 50,
    code: "forbidden",
    message: 'not allowed to publish to "other.topic"',
  }),
  errRow("unsub of a topic never subscribed", '{"op":"unsub","topic":"never.subscribed","id":51}', {
    id: 51,
    code: "not_subscribed",
    message: 'not subscribed to "never.subscribed"',
  }),

  // Floods.
  row(
    "subscribe flood: 21 subscriptions on one connection",
    { code: 4009, reason: "more than 20 subscriptions on one connection" },
    async (ctx) => {
      const client = await openClient(ctx);
      for (let i = 1; i <= 20; i++) await client.subscribe(`flood.s${i}`);
      client.send({ op: "sub", topic: "flood.s21", id: 21 });
      return client.waitForClose();
    },
  ),
  closeRow(
    "frame flood: 150 frames at once (rate 50/s, burst 100)",
    Array.from({ length: 150 }, (_, i) => `{"op":"ping","id":${i}}`),
    { code: 4009, reason: "more than 50 frames per second" },
  ),
  row(
    "publish flood: 30 pubs at once (rate 5/s, burst 10) get rate_limited, the connection stays open",
    {
      open: true,
      everyPubAnswered: true,
      rateLimited: { code: "rate_limited", message: "more than 5 publishes per second; slow down" },
    },
    async (ctx) => {
      const client = await openClient(ctx);
      for (let i = 0; i < 30; i++) client.send({ op: "pub", topic: "hostile.flood", data: i, id: `f${i}` });
      const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => replyTo(client, `f${i}`)));
      const limited = replies.find((r) => r.op === "err");
      return {
        open: client.closed === undefined,
        everyPubAnswered: replies.every(
          (r) => r.op === "ack" || (r.op === "err" && r.code === "rate_limited"),
        ),
        rateLimited:
          limited && limited.op === "err" ? { code: limited.code, message: limited.message } : "none",
      };
    },
  ),
];
