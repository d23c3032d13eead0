// Hostile HTTP: bad and huge bodies, wrong content types, oversized batches, deep nesting, prototype
// keys, bad query values and topics in the path, missing and forged credentials, request smuggling.
import { DATA_TOO_DEEP, EMPTY_TOKEN, NOT_JSON_BODY, WILDCARDS } from "../harness/expected-errors.js";
import { msgIdProblem } from "../../protocol/msg-id.js";
import { signToken } from "../harness/tokens.js";
import { forgedTokens, tokenOfLength } from "./hostile-tokens.js";
import { RawConnection } from "./raw-socket.js";
import {
  answerBeforeClose,
  errorBody,
  httpRow,
  openClient,
  postJson,
  rawDataOn,
  row,
  type HostileContext,
  type Row,
} from "./row.js";

const BODY_LIMIT = 1024 * 1024;
const MALFORMED = { status: 400, body: errorBody("bad_request", "malformed HTTP request") };
/** A POST of `body` as it is (not JSON-encoded) with the API key, as `contentType`. */
const withKeyBody =
  (body: Uint8Array<ArrayBuffer> | string, contentType = "application/json") =>
  (ctx: HostileContext): RequestInit => ({
    method: "POST",
    headers: { "content-type": contentType, authorization: `Bearer ${ctx.apiKey}` },
    body,
  });
/** A publish body with `bytes` spliced into the data string. */
const withBytesInData = (bytes: number[]) =>
  withKeyBody(
    Uint8Array.from([...Buffer.from('{"topic":"hostile.x","data":"'), ...bytes, ...Buffer.from('"}')]),
  );

const withKey = (body: unknown) => (ctx: HostileContext) =>
  postJson(body, { authorization: `Bearer ${ctx.apiKey}` });
const withBearer = (body: unknown, token: () => string | Promise<string>) => async (ctx: HostileContext) =>
  fetch(`${ctx.edge.url}/v1/publish`, postJson(body, { authorization: `Bearer ${await token()}` }));
const bad = (message: string) => ({ status: 400, body: errorBody("bad_request", message) });
const NOT_UTF8 = bad("request body is not valid UTF-8");
const NOT_A_DOUBLE = bad("field 'data' holds a number beyond the range of a double (about ±1.8e308)");
const history = (query: string, topic = "hostile.history") => `/v1/topics/${topic}/messages${query}`;
const keyHeader = (ctx: HostileContext) => ({ headers: { authorization: `Bearer ${ctx.apiKey}` } });
/** The answer to a publish whose `data` is over the limit of a message (64 KiB). */
const dataTooLarge = (data: unknown) => ({
  status: 413,
  body: errorBody(
    "payload_too_large",
    `message data is ${Buffer.byteLength(JSON.stringify(data))} bytes, over the limit of 65536 bytes`,
  ),
});

/** A publish with a Bearer credential built at run time; status and body. */
const bearerRow = (
  name: string,
  token: () => string | Promise<string>,
  expect: { status: number; body: unknown },
  body: unknown = { topic: "hostile.x", data: 1 },
): Row =>
  row(name, expect, async (ctx) => {
    const response = await withBearer(body, token)(ctx);
    return { status: response.status, body: await response.json() };
  });

/** Bytes written by hand: the status and body the edge answers with before it closes. */
const rawHttpRow = (name: string, request: string | Buffer, expect: { status: number; body: unknown }): Row =>
  row(name, expect, async (ctx) => {
    const connection = await RawConnection.open(ctx.scope, ctx.edge.port);
    connection.write(request);
    await connection.waitForEnd();
    return answerBeforeClose(connection.received);
  });

/** Data with prototype keys, each as sent and as it must be delivered; the edge-side probes at the end of the table check topic and data. */
const PROTO_DATA = [
  '{"__proto__":1}',
  '{"constructor":{"prototype":1}}',
  '{"__proto__":{"polluted":true,"topic":"polluted","data":"polluted"}}',
];
const HUGE_STRING = "x".repeat(100 * 1024);
const HUGE_ARRAY = new Array(100_000).fill(7);

export const httpRows: Row[] = [
  httpRow("publish: invalid JSON", "/v1/publish", withKey('{"topic":"hostile.x",'), bad(NOT_JSON_BODY)),
  httpRow(
    "publish: empty body",
    "/v1/publish",
    withKey(""),
    bad("request body is empty; send a JSON document"),
  ),
  httpRow(
    "publish: text/plain",
    "/v1/publish",
    withKeyBody("hi", "text/plain"),
    bad("Content-Type must be application/json"),
  ),
  httpRow(
    "publish: form encoded",
    "/v1/publish",
    withKeyBody("topic=a.b&data=1", "application/x-www-form-urlencoded"),
    bad("Content-Type must be application/json"),
  ),
  httpRow(
    "publish: 2 MiB body",
    "/v1/publish",
    withKey({ topic: "hostile.x", data: "x".repeat(2 * BODY_LIMIT) }),
    {
      status: 413,
      body: errorBody("payload_too_large", `request body is over the limit of ${BODY_LIMIT} bytes`),
    },
  ),
  httpRow(
    "publish: 100 KiB string as data",
    "/v1/publish",
    withKey({ topic: "hostile.x", data: HUGE_STRING }),
    dataTooLarge(HUGE_STRING),
  ),
  httpRow(
    "publish: array of 100,000 numbers as data",
    "/v1/publish",
    withKey({ topic: "hostile.x", data: HUGE_ARRAY }),
    dataTooLarge(HUGE_ARRAY),
  ),
  httpRow(
    "publish: batch of 1,001",
    "/v1/publish",
    withKey(Array.from({ length: 1001 }, (_, i) => ({ topic: "hostile.x", data: i }))),
    bad("a batch holds 1 to 1000 messages, got 1001"),
  ),
  httpRow(
    "publish: data nested 65 levels",
    "/v1/publish",
    withKey(`{"topic":"hostile.x","data":${"[".repeat(65)}${"]".repeat(65)}}`),
    bad(DATA_TOO_DEEP),
  ),
  httpRow(
    "publish: data nested 400,000 levels",
    "/v1/publish",
    withKey(`{"topic":"hostile.x","data":${"[".repeat(400_000)}${"]".repeat(400_000)}}`),
    bad(DATA_TOO_DEEP),
  ),
  httpRow(
    "publish: batch item nested deep",
    "/v1/publish",
    withKey(
      `[{"topic":"hostile.x","data":1},{"topic":"hostile.x","data":${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}}]`,
    ),
    bad(`message 1: ${DATA_TOO_DEEP}`),
  ),
  httpRow(
    "publish: body of 300,000 nested arrays",
    "/v1/publish",
    withKey("[".repeat(300_000) + "]".repeat(300_000)),
    bad('message 0: expected {"topic", "data", "msgId"?} (or an array of them)'),
  ),
  // Prototype keys at the top of a body are unknown fields; inside data they are data like any other.
  httpRow(
    "publish: __proto__ key in the body",
    "/v1/publish",
    withKey('{"topic":"hostile.x","data":1,"__proto__":{"topic":"polluted"}}'),
    bad("unknown field '__proto__'"),
  ),
  httpRow(
    "publish: constructor.prototype in the body",
    "/v1/publish",
    withKey('{"topic":"hostile.x","data":1,"constructor":{"prototype":{"topic":"polluted"}}}'),
    bad("unknown field 'constructor'"),
  ),
  httpRow(
    "publish: __proto__ key in a batch item",
    "/v1/publish",
    withKey('[{"topic":"hostile.x","data":1},{"__proto__":{"data":1},"topic":"hostile.x"}]'),
    bad("message 1: unknown field '__proto__'"),
  ),
  row(
    "publish: __proto__ and constructor keys inside data are stored and delivered verbatim, polluting nothing",
    {
      status: 200,
      delivered: PROTO_DATA,
      parsed: [["__proto__"], ["constructor"], ["__proto__"]].map((keys) => ({
        ownKeys: keys,
        plainPrototype: true,
      })),
      prototypesUntouched: {
        polluted: undefined,
        topic: undefined,
        data: undefined,
        objectPrototypeKeys: [],
      },
    },
    async (ctx) => {
      const reader = await openClient(ctx);
      await reader.subscribe("hostile.proto-http");
      const response = await fetch(
        `${ctx.edge.url}/v1/publish`,
        withKey(`[${PROTO_DATA.map((data) => `{"topic":"hostile.proto-http","data":${data}}`).join(",")}]`)(
          ctx,
        ),
      );
      const received = await reader.waitForMessages("hostile.proto-http", PROTO_DATA.length);
      const probe = {} as Record<string, unknown>;
      return {
        status: response.status,
        delivered: rawDataOn(reader, "hostile.proto-http"),
        // As a client's JSON.parse sees it: own properties of a plain object, no prototype swapped in.
        parsed: received.map((m) => ({
          ownKeys: Object.keys(m.data as object),
          plainPrototype: Object.getPrototypeOf(m.data) === Object.prototype,
        })),
        prototypesUntouched: {
          polluted: probe.polluted,
          topic: probe.topic,
          data: probe.data,
          objectPrototypeKeys: Object.keys(Object.prototype),
        },
      };
    },
  ),
  httpRow("publish: byte 0xFF in the body", "/v1/publish", withBytesInData([0xff]), NOT_UTF8),
  httpRow("publish: overlong UTF-8 encoding of '/'", "/v1/publish", withBytesInData([0xc0, 0xaf]), NOT_UTF8),
  httpRow(
    "publish: UTF-8-encoded surrogate half",
    "/v1/publish",
    withBytesInData([0xed, 0xa0, 0x80]),
    NOT_UTF8,
  ),
  httpRow(
    "publish: body in Latin-1 (é as 0xE9)",
    "/v1/publish",
    withBytesInData([0x63, 0x61, 0x66, 0xe9]),
    NOT_UTF8,
  ),
  httpRow(
    "publish: 1e400 in data (Infinity, would be stored as null)",
    "/v1/publish",
    withKey('{"topic":"hostile.x","data":{"n":1e400}}'),
    NOT_A_DOUBLE,
  ),
  httpRow(
    "publish: batch item with -1e999 in data",
    "/v1/publish",
    withKey('[{"topic":"hostile.x","data":1},{"topic":"hostile.x","data":[-1e999]}]'),
    bad(`message 1: ${NOT_A_DOUBLE.body.error.message}`),
  ),
  httpRow(
    "publish: 12345678901234567891 in data (a double would make it 12345678901234567000)",
    "/v1/publish",
    withKey('{"topic":"hostile.x","data":{"big":12345678901234567891}}'),
    bad(
      "field 'data' holds the number 12345678901234567891, which a double cannot hold exactly (it would arrive as 12345678901234567000); send it as a string",
    ),
  ),
  httpRow(
    "publish: batch item with 1e-400 in data (a double would make it 0)",
    "/v1/publish",
    withKey('[{"topic":"hostile.x","data":1},{"topic":"hostile.x","data":[1e-400]}]'),
    bad(
      "message 1: field 'data' holds the number 1e-400, which a double cannot hold exactly (it would arrive as 0); send it as a string",
    ),
  ),
  httpRow(
    "publish: batch whose second msgId holds CR LF (a header could split on it): refused whole, naming the item",
    "/v1/publish",
    withKey([
      { topic: "hostile.msgid-batch", data: 1, msgId: "first-ok" },
      { topic: "hostile.msgid-batch", data: 2, msgId: "split\r\nNats-Msg-Id: x" },
    ]),
    bad(`message 1: ${msgIdProblem("split\r\n")}`),
  ),
  row(
    "publish: after the refused batch, nothing of it is stored (its valid first item neither)",
    { status: 200, messages: 0 },
    async (ctx) => {
      const response = await fetch(
        `${ctx.edge.url}${history("?after=0", "hostile.msgid-batch")}`,
        keyHeader(ctx),
      );
      const body = (await response.json()) as { messages: unknown[] };
      return { status: response.status, messages: body.messages.length };
    },
  ),
  httpRow(
    "publish: msgId with surrounding spaces (one backend would trim them, the other not)",
    "/v1/publish",
    withKey({ topic: "hostile.x", data: 1, msgId: " padded " }),
    bad(msgIdProblem(" padded ")!),
  ),
  httpRow(
    "publish: topic of 300 bytes",
    "/v1/publish",
    withKey({ topic: `${"a".repeat(60)}.`.repeat(5), data: 1 }),
    { status: 400, body: errorBody("invalid_topic", "topic is longer than 255 bytes") },
  ),
  httpRow("publish: wildcard topic", "/v1/publish", withKey({ topic: "hostile.*", data: 1 }), {
    status: 400,
    body: errorBody("invalid_topic", WILDCARDS),
  }),
  httpRow("publish: topic of the wrong type", "/v1/publish", withKey({ topic: ["hostile", "x"], data: 1 }), {
    status: 400,
    body: errorBody("invalid_topic", "topic must be a string"),
  }),

  httpRow(
    "history: after=abc",
    history("?after=abc"),
    keyHeader,
    bad('after must be a whole number, got "abc"'),
  ),
  httpRow(
    "history: after=-1",
    history("?after=-1"),
    keyHeader,
    bad('after must be a whole number, got "-1"'),
  ),
  httpRow(
    "history: after=1.5",
    history("?after=1.5"),
    keyHeader,
    bad('after must be a whole number, got "1.5"'),
  ),
  httpRow(
    "history: after beyond 2^53",
    history("?after=99999999999999999999"),
    keyHeader,
    bad("after must be between 0 and 9007199254740991, got 99999999999999999999"),
  ),
  httpRow(
    "history: after given twice",
    history("?after=1&after=2"),
    keyHeader,
    bad('after must be a whole number, got ["1","2"]'),
  ),
  httpRow("history: limit=0", history("?limit=0"), keyHeader, bad("limit must be between 1 and 1000, got 0")),
  httpRow(
    "history: limit=1e3",
    history("?limit=1e3"),
    keyHeader,
    bad('limit must be a whole number, got "1e3"'),
  ),
  httpRow(
    "history: __proto__ query parameter",
    history("?__proto__=1"),
    keyHeader,
    bad("unknown query parameter '__proto__'; use after and limit"),
  ),
  httpRow("history: wildcard topic in the path", history("", "hostile.>"), keyHeader, {
    status: 400,
    body: errorBody("invalid_topic", WILDCARDS),
  }),
  httpRow("history: empty token in the path", history("", "hostile..x"), keyHeader, {
    status: 400,
    body: errorBody("invalid_topic", EMPTY_TOKEN),
  }),
  httpRow("history: encoded traversal in the path", history("", "..%2F..%2Fetc"), keyHeader, {
    status: 400,
    body: errorBody("invalid_topic", EMPTY_TOKEN),
  }),
  httpRow("history: 300-byte topic in the path", history("", `${"a".repeat(60)}.`.repeat(5)), keyHeader, {
    status: 400,
    body: errorBody("invalid_topic", "topic is longer than 255 bytes"),
  }),

  httpRow(
    "history: broken percent-encoding in the path",
    history("", "%ff"),
    keyHeader,
    bad("'/v1/topics/%ff/messages' is not a valid url component"),
  ),
  httpRow("history: 800-character path segment", history("", "a".repeat(800)), keyHeader, {
    status: 400,
    body: errorBody("invalid_topic", "topic is longer than 255 bytes"),
  }),
  row("history: a valid topic of 255 bytes is served", { status: 200, messages: [] }, async (ctx) => {
    const response = await fetch(
      ctx.edge.url + history("", `${"t".repeat(63)}.`.repeat(3) + "u".repeat(63)),
      keyHeader(ctx),
    );
    return {
      status: response.status,
      messages: ((await response.json()) as { messages?: unknown }).messages,
    };
  }),
  row(
    "history: a valid topic of 255 bytes, percent-encoded, is served",
    { status: 200, messages: [] },
    async (ctx) => {
      const topic = `${":".repeat(63)}.`.repeat(3) + "@".repeat(63);
      const response = await fetch(ctx.edge.url + history("", encodeURIComponent(topic)), keyHeader(ctx));
      return {
        status: response.status,
        messages: ((await response.json()) as { messages?: unknown }).messages,
      };
    },
  ),

  httpRow(
    "publish: no credentials (anonymous off)",
    "/v1/publish",
    postJson({ topic: "hostile.x", data: 1 }),
    {
      status: 401,
      body: errorBody(
        "unauthenticated",
        "send Authorization: Bearer <API key or JWT>; this edge accepts API keys, JWTs (HS256, RS256)",
      ),
    },
  ),
  httpRow(
    "history: no credentials",
    history(""),
    {},
    {
      status: 401,
      body: errorBody(
        "unauthenticated",
        "send Authorization: Bearer <API key or JWT>; this edge accepts API keys, JWTs (HS256, RS256)",
      ),
    },
  ),
  httpRow(
    "publish: Basic credentials",
    "/v1/publish",
    postJson({ topic: "hostile.x", data: 1 }, { authorization: "Basic YWRtaW46YWRtaW4=" }),
    {
      status: 401,
      body: errorBody(
        "unauthenticated",
        "the Authorization header must be: Bearer <API key or JWT>; this edge accepts API keys, JWTs (HS256, RS256)",
      ),
    },
  ),
  httpRow(
    "publish: unknown API key",
    "/v1/publish",
    postJson({ topic: "hostile.x", data: 1 }, { authorization: "Bearer hostile-guess" }),
    { status: 401, body: errorBody("unauthenticated", "unknown API key") },
  ),
  httpRow(
    "publish: API key __proto__",
    "/v1/publish",
    postJson({ topic: "hostile.x", data: 1 }, { authorization: "Bearer __proto__" }),
    { status: 401, body: errorBody("unauthenticated", "unknown API key") },
  ),
  httpRow(
    "publish: API key constructor",
    "/v1/publish",
    postJson({ topic: "hostile.x", data: 1 }, { authorization: "Bearer constructor" }),
    { status: 401, body: errorBody("unauthenticated", "unknown API key") },
  ),
  bearerRow("publish: forged JWT", forgedTokens.otherSecret, {
    status: 401,
    body: errorBody("unauthenticated", "token signature is invalid"),
  }),
  bearerRow("publish: expired JWT", forgedTokens.expired, {
    status: 401,
    body: errorBody("unauthenticated", "token has expired"),
  }),
  bearerRow("publish: alg none JWT", forgedTokens.algNone, {
    status: 401,
    body: errorBody("unauthenticated", "token algorithm is not accepted"),
  }),
  row(
    "publish: a valid token of the longest length (16 KiB) in Authorization is accepted, not refused with 431",
    { status: 200, stored: true },
    async (ctx) => {
      const response = await withBearer({ topic: "hostile.long", data: 1 }, () => tokenOfLength(16 * 1024))(
        ctx,
      );
      const body = (await response.json()) as { seq?: unknown };
      return { status: response.status, stored: typeof body.seq === "number" };
    },
  ),
  bearerRow("publish: JWT without publish rights", () => signToken({ publish: ["own.>"] }), {
    status: 403,
    body: errorBody("forbidden", 'not allowed to publish to "hostile.x"'),
  }),
  row(
    "history: JWT without the right to read",
    { status: 403, body: errorBody("forbidden", 'not allowed to read "secret.t"') },
    async (ctx) => {
      const response = await fetch(ctx.edge.url + history("", "secret.t"), {
        headers: { authorization: `Bearer ${await signToken({ subscribe: ["own.>"] })}` },
      });
      return { status: response.status, body: await response.json() };
    },
  ),

  httpRow(
    "demo files: encoded traversal to package.json",
    "/%2e%2e%2fpackage.json",
    {},
    { status: 404, body: errorBody("not_found", "no file ../package.json") },
  ),
  httpRow(
    "demo files: backslash traversal",
    "/..%5c..%5cpackage.json",
    {},
    { status: 404, body: errorBody("not_found", "no file ..\\..\\package.json") },
  ),
  httpRow(
    "demo files: NUL before an allowed extension",
    "/index.html%00.js",
    {},
    { status: 404, body: errorBody("not_found", "no file index.html\u0000.js") },
  ),

  rawHttpRow(
    "request smuggling: Content-Length and Transfer-Encoding together",
    "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    MALFORMED,
  ),
  rawHttpRow(
    "request line of 100 KiB",
    `GET /v1/topics/${"a".repeat(100 * 1024)}/messages HTTP/1.1\r\nHost: x\r\n\r\n`,
    {
      status: 431,
      body: errorBody("headers_too_large", "request line and headers are over the limit of 32768 bytes"),
    },
  ),
  rawHttpRow(
    "not HTTP at all",
    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello to a plain port\r\n\r\n",
    MALFORMED,
  ),

  // Per-credential rate limits over HTTP, as the WebSocket has per connection: a token's subject is
  // held to HERALD_PUBLISHES_PER_SECOND (5 here, burst 10; a batch counts each message) and to
  // HERALD_HISTORY_READS_PER_SECOND (20, burst 40), each refusal a 429 with Retry-After.
  row(
    "publish over HTTP beyond HERALD_PUBLISHES_PER_SECOND for one token subject: 429 with Retry-After",
    { batch: 200, other: 200, next: { status: 429, retryAfter: true, code: "rate_limited", message: true } },
    async (ctx) => {
      const token = await signToken({ subject: "http-burst", publish: ["hostile.>"] });
      const post = (body: unknown, bearer = token) =>
        fetch(`${ctx.edge.url}/v1/publish`, postJson(body, { authorization: `Bearer ${bearer}` }));
      const batch = await post(Array.from({ length: 10 }, (_, i) => ({ topic: "hostile.rate", data: i })));
      const next = await post({ topic: "hostile.rate", data: "one more" });
      // Another subject is not held back by this one.
      const other = await post(
        { topic: "hostile.rate", data: "other" },
        await signToken({ subject: "http-other", publish: ["hostile.>"] }),
      );
      const body = (await next.json()) as { error: { code: string; message: string } };
      return {
        batch: batch.status,
        other: other.status,
        next: {
          status: next.status,
          retryAfter: Number(next.headers.get("retry-after")) >= 1,
          code: body.error.code,
          message: /^more than 5 publishes per second for this token subject; retry after \d+ s$/.test(
            body.error.message,
          ),
        },
      };
    },
  ),
  row(
    "50 history requests at once by one token subject: those beyond HERALD_HISTORY_READS_PER_SECOND get 429 with Retry-After",
    { served: true, refused: true, everyRefusalSaysWhen: true },
    async (ctx) => {
      const token = await signToken({ subject: "history-burst" });
      const answers = await Promise.all(
        Array.from({ length: 50 }, () =>
          fetch(`${ctx.edge.url}${history("?after=0&limit=1")}`, {
            headers: { authorization: `Bearer ${token}` },
          }),
        ),
      );
      const refused = answers.filter((a) => a.status === 429);
      return {
        served: answers.filter((a) => a.status === 200).length >= 40,
        refused: refused.length > 0 && refused.length + answers.filter((a) => a.status === 200).length === 50,
        everyRefusalSaysWhen: refused.every((a) => Number(a.headers.get("retry-after")) >= 1),
      };
    },
  ),
];
