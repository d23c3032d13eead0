// Bad input, as a table: every malformed frame, wrong field, invalid topic, limit breach and bad
// HTTP body gets the err frame, close code or HTTP error docs/protocol.md#error-codes names, with a readable message.
// Throughout, a well-behaved subscriber keeps receiving every message, and the edge stays healthy.
import test from "ava";
import {
  CHARACTERS,
  EMPTY_TOKEN,
  NOT_JSON_BODY,
  NOT_JSON_FRAME,
  OPS,
  WILDCARDS,
} from "../harness/expected-errors.js";
import { startTestEdge } from "../harness/test-edge.js";
import { chainProblem, TestClient } from "../harness/ws-client.js";

/** Frames answered with an err frame; the connection stays open. */
const ERR_CASES: [name: string, frame: string, code: string, message: string][] = [
  [
    "unknown op",
    '{"op":"subscribe","topic":"a.b","id":1}',
    "invalid_frame",
    `unknown op "subscribe"; ${OPS}`,
  ],
  ["missing op", '{"topic":"a.b","id":1}', "invalid_frame", `missing op; ${OPS}`],
  ["op of the wrong type", '{"op":7,"id":1}', "invalid_frame", `missing op; ${OPS}`],
  [
    "topic of the wrong type",
    '{"op":"sub","topic":5,"id":1}',
    "invalid_frame",
    "sub frame: field 'topic': expected string",
  ],
  [
    "id of the wrong type",
    '{"op":"ping","id":{"a":1}}',
    "invalid_frame",
    "ping frame: field 'id' has an invalid value",
  ],
  ["missing topic", '{"op":"sub","id":1}', "invalid_frame", "sub frame: missing field 'topic'"],
  ["missing data", '{"op":"pub","topic":"a.b","id":1}', "invalid_frame", "pub frame: missing field 'data'"],
  ["pub without id", '{"op":"pub","topic":"a.b","data":1}', "invalid_frame", "pub frame: missing field 'id'"],
  [
    "unknown field",
    '{"op":"ping","id":1,"extra":true}',
    "invalid_frame",
    "ping frame: unknown field 'extra'",
  ],
  [
    "bad from",
    '{"op":"sub","topic":"a.b","id":1,"from":{"seq":-1}}',
    "invalid_frame",
    "sub frame: field 'from' has an invalid value",
  ],
  ["empty token in topic", '{"op":"sub","topic":"a..b","id":1}', "invalid_topic", EMPTY_TOKEN],
  ["trailing dot", '{"op":"sub","topic":"a.b.","id":1}', "invalid_topic", EMPTY_TOKEN],
  ["wildcard *", '{"op":"sub","topic":"a.*","id":1}', "invalid_topic", WILDCARDS],
  ["wildcard >", '{"op":"pub","topic":"a.>","data":1,"id":1}', "invalid_topic", WILDCARDS],
  [
    "topic over 255 bytes",
    JSON.stringify({ op: "sub", topic: `${"a".repeat(60)}.`.repeat(4) + "b".repeat(20), id: 1 }),
    "invalid_topic",
    "topic is longer than 255 bytes",
  ],
  [
    "number beyond the double range in data",
    '{"op":"pub","topic":"a.b","data":{"n":1e400},"id":1}',
    "invalid_frame",
    "pub frame: field 'data' holds a number beyond the range of a double (about ±1.8e308)",
  ],
  [
    "more than 8 tokens",
    '{"op":"sub","topic":"a.b.c.d.e.f.g.h.i","id":1}',
    "invalid_topic",
    "topic has more than 8 dot-separated tokens",
  ],
  ["bad characters", '{"op":"sub","topic":"a b","id":1}', "invalid_topic", CHARACTERS],
];

/** Frames that end the connection with a close code. */
const CLOSE_CASES: [name: string, frame: string | Buffer, code: number, reason: string][] = [
  [
    "binary frame",
    Buffer.from('{"op":"ping"}'),
    4400,
    "binary frames are not accepted; send JSON text frames",
  ],
  ["malformed JSON", '{"op":"ping",', 4400, NOT_JSON_FRAME],
  ["JSON array", "[1,2]", 4400, "frame must be a JSON object"],
  ["JSON string", '"ping"', 4400, "frame must be a JSON object"],
  ["JSON null", "null", 4400, "frame must be a JSON object"],
  [
    "oversized frame",
    JSON.stringify({ op: "pub", topic: "a.b", id: 1, data: "x".repeat(2000) }),
    4009,
    "frame of 2043 bytes is over the limit of 1024 bytes",
  ],
];

/** HTTP requests refused with a status and an error body. */
const HTTP_CASES: [
  name: string,
  path: string,
  init: RequestInit,
  status: number,
  code: string,
  message: string,
][] = [
  [
    "publish: not JSON",
    "/v1/publish",
    { method: "POST", headers: { "content-type": "application/json" }, body: "{topic" },
    400,
    "bad_request",
    NOT_JSON_BODY,
  ],
  [
    "publish: empty body",
    "/v1/publish",
    { method: "POST", headers: { "content-type": "application/json" }, body: "" },
    400,
    "bad_request",
    "request body is empty; send a JSON document",
  ],
  [
    "publish: wrong content type",
    "/v1/publish",
    { method: "POST", headers: { "content-type": "text/plain" }, body: "hi" },
    400,
    "bad_request",
    "Content-Type must be application/json",
  ],
  [
    "publish: not an object",
    "/v1/publish",
    json(42),
    400,
    "bad_request",
    'expected {"topic", "data", "msgId"?} (or an array of them)',
  ],
  [
    "publish: missing data",
    "/v1/publish",
    json({ topic: "a.b" }),
    400,
    "bad_request",
    "missing field 'data'",
  ],
  ["publish: missing topic", "/v1/publish", json({ data: 1 }), 400, "bad_request", "missing field 'topic'"],
  [
    "publish: unknown field",
    "/v1/publish",
    json({ topic: "a.b", data: 1, ttl: 5 }),
    400,
    "bad_request",
    "unknown field 'ttl'",
  ],
  [
    "publish: msgId of the wrong type",
    "/v1/publish",
    json({ topic: "a.b", data: 1, msgId: 5 }),
    400,
    "bad_request",
    "msgId must be a string",
  ],
  ["publish: invalid topic", "/v1/publish", json({ topic: "a.*", data: 1 }), 400, "invalid_topic", WILDCARDS],
  [
    "publish: topic over 255 bytes",
    "/v1/publish",
    json({ topic: `${"a".repeat(60)}.`.repeat(4) + "b".repeat(20), data: 1 }),
    400,
    "invalid_topic",
    "topic is longer than 255 bytes",
  ],
  [
    "publish: number beyond the double range",
    "/v1/publish",
    raw('{"topic":"a.b","data":-1e400}'),
    400,
    "bad_request",
    "field 'data' holds a number beyond the range of a double (about ±1.8e308)",
  ],
  [
    "publish: body that is not UTF-8",
    "/v1/publish",
    raw(Uint8Array.from([...Buffer.from('{"topic":"a.b","data":"'), 0xff, ...Buffer.from('"}')])),
    400,
    "bad_request",
    "request body is not valid UTF-8",
  ],
  [
    "publish: empty batch",
    "/v1/publish",
    json([]),
    400,
    "bad_request",
    "a batch holds 1 to 1000 messages, got 0",
  ],
  [
    "publish: batch with one bad item stores nothing",
    "/v1/publish",
    json([
      { topic: "bad.t", data: 1 },
      { topic: "", data: 2 },
    ]),
    400,
    "invalid_topic",
    "message 1: topic must not be empty",
  ],
  [
    "publish: data over the limit",
    "/v1/publish",
    json({ topic: "a.b", data: "x".repeat(1100) }),
    413,
    "payload_too_large",
    "message data is 1102 bytes, over the limit of 1024 bytes",
  ],
  [
    "publish: body over the limit",
    "/v1/publish",
    json({ topic: "a.b", data: "x".repeat(1024 * 1024) }),
    413,
    "payload_too_large",
    "request body is over the limit of 1048576 bytes",
  ],
  [
    "publish: bad authorization header",
    "/v1/publish",
    json({ topic: "a.b", data: 1 }, { authorization: "Basic abc" }),
    401,
    "unauthenticated",
    "the Authorization header must be: Bearer <API key or JWT>; this edge accepts nothing (no API key and no JWT key configured)",
  ],
  [
    "publish: unknown API key",
    "/v1/publish",
    json({ topic: "a.b", data: 1 }, { authorization: "Bearer nope" }),
    401,
    "unauthenticated",
    "unknown API key",
  ],
  ["history: invalid topic", "/v1/topics/a..b/messages", {}, 400, "invalid_topic", EMPTY_TOKEN],
  [
    "history: topic over 255 bytes",
    `/v1/topics/${`${"a".repeat(60)}.`.repeat(4) + "b".repeat(20)}/messages`,
    {},
    400,
    "invalid_topic",
    "topic is longer than 255 bytes",
  ],
  [
    "history: bad after",
    "/v1/topics/a.b/messages?after=-1",
    {},
    400,
    "bad_request",
    'after must be a whole number, got "-1"',
  ],
  [
    "history: limit too large",
    "/v1/topics/a.b/messages?limit=5000",
    {},
    400,
    "bad_request",
    "limit must be between 1 and 1000, got 5000",
  ],
  [
    "history: unknown parameter",
    "/v1/topics/a.b/messages?from=3",
    {},
    400,
    "bad_request",
    "unknown query parameter 'from'; use after and limit",
  ],
  [
    "WebSocket endpoint without an upgrade",
    "/v1/ws",
    {},
    400,
    "bad_request",
    "/v1/ws is a WebSocket endpoint: connect with the subprotocol herald.v1",
  ],
  ["unknown route", "/v2/publish", { method: "POST" }, 404, "not_found", "no route POST /v2/publish"],
  ["demo: missing file", "/nothing.js", {}, 404, "not_found", "no file nothing.js in edge/public"],
];

function json(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return raw(JSON.stringify(body), headers);
}

/** A body sent exactly as given, bytes included. */
function raw(body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}): RequestInit {
  return { method: "POST", headers: { "content-type": "application/json", ...headers }, body };
}

test("bad input gets the named err frame, close code or HTTP error; a well-behaved client misses nothing", async (t) => {
  const edge = await startTestEdge(t, {
    HERALD_MAX_FRAME_BYTES: "1024",
    HERALD_MAX_SUBSCRIPTIONS: "3",
    HERALD_FRAMES_PER_SECOND: "1000",
  });
  const observer = await TestClient.ready(edge.wsUrl);
  t.teardown(() => observer.close());
  await observer.subscribe("good.t");
  const publisher = await TestClient.ready(edge.wsUrl);
  t.teardown(() => publisher.close());
  let published = 0;
  const publishGood = async () => {
    published++;
    t.like(
      await publisher.request({ op: "pub", topic: "good.t", data: published, id: `good-${published}` }),
      { op: "ack" },
    );
  };

  const bad = await TestClient.ready(edge.wsUrl);
  t.teardown(() => bad.close());
  for (const [name, frame, code, message] of ERR_CASES) {
    const errorsBefore = bad.frames.filter((f) => f.op === "err").length;
    bad.send(frame);
    const reply = await bad.until(() => bad.frames.filter((f) => f.op === "err")[errorsBefore], name);
    t.like(reply, { op: "err", code, message }, name);
    await publishGood();
  }
  t.is(bad.closed, undefined, "err frames leave the connection open");

  for (const [name, frame, code, reason] of CLOSE_CASES) {
    const client = await TestClient.ready(edge.wsUrl);
    client.ws.send(frame);
    t.deepEqual(await client.waitForClose(), { code, reason }, name);
    await publishGood();
  }

  const greedy = await TestClient.ready(edge.wsUrl);
  for (const topic of ["s.1", "s.2", "s.3"]) await greedy.subscribe(topic);
  greedy.send({ op: "sub", topic: "s.4", id: 4 });
  t.deepEqual(
    await greedy.waitForClose(),
    { code: 4009, reason: "more than 3 subscriptions on one connection" },
    "too many subscriptions",
  );

  for (const [name, path, init, status, code, message] of HTTP_CASES) {
    const response = await fetch(edge.url + path, init);
    t.deepEqual(
      { status: response.status, body: await response.json() },
      { status, body: { error: { code, message } } },
      name,
    );
    await publishGood();
  }
  // The refused batch stored nothing, not even its valid first message.
  const history = (await (await fetch(`${edge.url}/v1/topics/bad.t/messages`)).json()) as {
    messages: unknown[];
  };
  t.deepEqual(history.messages, []);

  t.is((await fetch(`${edge.url}/healthz`)).status, 200);
  t.is((await fetch(`${edge.url}/readyz`)).status, 200);
  const received = await observer.waitForMessages("good.t", published);
  t.deepEqual(
    received.map((m) => m.data),
    Array.from({ length: published }, (_, i) => i + 1),
  );
  t.is(chainProblem(received, 0), undefined);
  t.is(observer.closed, undefined);
});
