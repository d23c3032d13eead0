// herald.v1 conformance: every frame and close code of docs/protocol.md, success and failure, against a
// real edge (embedded backend) over real WebSockets.
import test from "ava";
import { CloseCode } from "../../protocol/index.js";
import { startTestEdge } from "../harness/test-edge.js";
import { signToken, TEST_API_KEY, TEST_JWT_SECRET } from "../harness/tokens.js";
import { chainProblem, TestClient, UpgradeRefused } from "../harness/ws-client.js";
import { waitFor } from "../harness/wait.js";
import { postPublish } from "../harness/http.js";

const AUTH_ENV = {
  HERALD_JWT_SECRET: TEST_JWT_SECRET,
  HERALD_ALLOW_ANONYMOUS: "false",
  HERALD_API_KEYS: TEST_API_KEY,
};
const WITH_KEY = { authorization: `Bearer ${TEST_API_KEY}` };

test("welcome carries the session id, heartbeat and the configured limits", async (t) => {
  const edge = await startTestEdge(t, { HERALD_MAX_SUBSCRIPTIONS: "7", HERALD_HEARTBEAT_MS: "5000" });
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  const welcome = client.frames[0]!;
  t.is(welcome.op, "welcome");
  if (welcome.op !== "welcome") return;
  t.regex(welcome.session, /^[0-9a-f-]{36}$/);
  t.is(welcome.heartbeatMs, 5000);
  t.deepEqual(welcome.limits, {
    maxFrameBytes: 65536,
    maxSubscriptions: 7,
    sendBufferBytes: 1048576,
    framesPerSecond: 100,
    publishesPerSecond: 50,
  });
  t.is(client.ws.protocol, "herald.v1");
});

test("sub live-only: subok at the head, then every new message in order with its prev chain", async (t) => {
  const edge = await startTestEdge(t);
  await postPublish(edge.url, [
    { topic: "scores.a", data: 1 },
    { topic: "scores.a", data: 2 },
  ]);
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  const subok = await client.subscribe("scores.a", undefined, 7);
  t.like(subok, { op: "subok", id: 7, topic: "scores.a", seq: 2, recovered: true });
  const { status, body } = await postPublish(edge.url, [
    { topic: "scores.a", data: { n: 3 } },
    { topic: "scores.a", data: "four" },
  ]);
  t.deepEqual(
    { status, body },
    {
      status: 200,
      body: [
        { seq: 3, dup: false },
        { seq: 4, dup: false },
      ],
    },
  );
  const messages = await client.waitForMessages("scores.a", 2);
  t.deepEqual(
    messages.map((m) => [m.seq, m.prev, m.data]),
    [
      [3, 2, { n: 3 }],
      [4, 3, "four"],
    ],
  );
  t.true(messages.every((m) => typeof m.ts === "number" && m.ts > 0));
});

test("pub is acked with its seq; a repeated msgId is acked as dup with the first seq", async (t) => {
  const edge = await startTestEdge(t);
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  await client.subscribe("chat.room1");
  t.deepEqual(
    await client.request({ op: "pub", topic: "chat.room1", data: { text: "hi" }, id: "p1", msgId: "m-1" }),
    { op: "ack", id: "p1", seq: 1, dup: false },
  );
  t.deepEqual(
    await client.request({ op: "pub", topic: "chat.room1", data: { text: "hi" }, id: "p2", msgId: "m-1" }),
    { op: "ack", id: "p2", seq: 1, dup: true },
  );
  const [message] = await client.waitForMessages("chat.room1", 1);
  t.deepEqual(message!.data, { text: "hi" });
  // The duplicate was not stored or delivered again.
  await client.request({ op: "ping", id: "after" });
  t.is(client.messages("chat.room1").length, 1);
});

test("unsub is acked and stops delivery; unsub of an unknown topic and a second sub are refused", async (t) => {
  const edge = await startTestEdge(t);
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  await client.subscribe("a.b");
  t.deepEqual(await client.request({ op: "sub", topic: "a.b", id: 2 }), {
    op: "err",
    id: 2,
    code: "already_subscribed",
    message: 'already subscribed to "a.b"',
  });
  t.deepEqual(await client.request({ op: "unsub", topic: "a.b", id: 3 }), { op: "ack", id: 3 });
  t.deepEqual(await client.request({ op: "unsub", topic: "a.b", id: 4 }), {
    op: "err",
    id: 4,
    code: "not_subscribed",
    message: 'not subscribed to "a.b"',
  });
  await postPublish(edge.url, { topic: "a.b", data: 1 });
  await client.subscribe("a.c");
  await postPublish(edge.url, { topic: "a.c", data: 2 });
  await client.waitForMessages("a.c", 1);
  t.is(client.messages("a.b").length, 0);
});

test("ping with an id is acked; without an id it expects no reply", async (t) => {
  const edge = await startTestEdge(t);
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  client.send({ op: "ping" });
  t.deepEqual(await client.request({ op: "ping", id: 1 }), { op: "ack", id: 1 });
  t.deepEqual(
    client.frames.map((f) => f.op),
    ["welcome", "ack"],
  );
});

test("pending frames for one socket are batched into one WebSocket frame, split on newlines", async (t) => {
  const edge = await startTestEdge(t);
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  await client.subscribe("batch.t");
  const items = Array.from({ length: 50 }, (_, i) => ({ topic: "batch.t", data: i }));
  await postPublish(edge.url, items);
  const messages = await client.waitForMessages("batch.t", 50);
  t.deepEqual(
    messages.map((m) => m.data),
    items.map((i) => i.data),
  );
  t.is(chainProblem(messages, 0), undefined);
  t.true(
    client.rawFrames.some((raw) => raw.split("\n").length > 1),
    "some WebSocket frame carried several edge frames",
  );
});

test("anonymous access: subscribe allowed; publish refused when HERALD_ANONYMOUS_PUBLISH=false", async (t) => {
  const edge = await startTestEdge(t, { HERALD_ANONYMOUS_PUBLISH: "false" });
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  await client.subscribe("news.x");
  t.deepEqual(await client.request({ op: "pub", topic: "news.x", data: 1, id: 1 }), {
    op: "err",
    id: 1,
    code: "forbidden",
    message: 'not allowed to publish to "news.x"',
  });
  const { status, body } = await postPublish(edge.url, { topic: "news.x", data: 1 });
  t.deepEqual(
    { status, body },
    {
      status: 403,
      body: { error: { code: "forbidden", message: 'not allowed to publish to "news.x"' } },
    },
  );
});

test("token on the upgrade: entitlement by its sub and pub patterns", async (t) => {
  const edge = await startTestEdge(t, AUTH_ENV);
  const token = await signToken({ subscribe: ["scores.>"], publish: ["scores.football.*"] });
  const client = await TestClient.ready(edge.wsUrl, { token });
  t.teardown(() => client.close());
  await client.subscribe("scores.football.m1");
  t.deepEqual(await client.request({ op: "sub", topic: "news.x", id: 1 }), {
    op: "err",
    id: 1,
    code: "forbidden",
    message: 'not allowed to subscribe to "news.x"',
  });
  t.like(await client.request({ op: "pub", topic: "scores.football.m1", data: 1, id: 2 }), {
    op: "ack",
    id: 2,
    seq: 1,
  });
  t.deepEqual(await client.request({ op: "pub", topic: "scores.tennis.m1", data: 1, id: 3 }), {
    op: "err",
    id: 3,
    code: "forbidden",
    message: 'not allowed to publish to "scores.tennis.m1"',
  });
});

test("4001: a refused ?token= closes the connection after the welcome, with the reason", async (t) => {
  const edge = await startTestEdge(t, AUTH_ENV);
  const client = await TestClient.connect(edge.wsUrl, { token: "not-a-jwt" });
  t.deepEqual(await client.waitForClose(), { code: CloseCode.Unauthenticated, reason: "token is malformed" });
  t.is(client.frames[0]?.op, "welcome");
  t.is((await edge.metrics.connections.get()).values[0]?.value, 0, "the refused connection is not counted");
});

test("4001: without anonymous access, no auth frame within authTimeoutMs", async (t) => {
  const edge = await startTestEdge(t, { ...AUTH_ENV, HERALD_AUTH_TIMEOUT_MS: "300" });
  const client = await TestClient.ready(edge.wsUrl);
  t.deepEqual(await client.waitForClose(), {
    code: 4001,
    reason: "no auth frame within 300 ms; accepted: JWTs (HS256)",
  });
});

test("4001: without anonymous access, a first frame other than auth", async (t) => {
  const edge = await startTestEdge(t, AUTH_ENV);
  const client = await TestClient.ready(edge.wsUrl);
  client.send({ op: "sub", topic: "a.b", id: 1 });
  t.deepEqual(await client.waitForClose(), {
    code: 4001,
    reason: "authenticate first: the first frame must be an auth frame; accepted: JWTs (HS256)",
  });
});

test("4001: a first auth frame with a bad token", async (t) => {
  const edge = await startTestEdge(t, AUTH_ENV);
  const client = await TestClient.ready(edge.wsUrl);
  client.send({ op: "auth", token: await signToken({}, "another-secret-that-is-long-enough-0123"), id: 1 });
  t.deepEqual(await client.waitForClose(), { code: 4001, reason: "token signature is invalid" });
});

test("auth frame first: acked, and frames sent right behind it are served once it is verified", async (t) => {
  const edge = await startTestEdge(t, AUTH_ENV);
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  client.send({ op: "auth", token: await signToken({ subscribe: ["a.>"] }), id: "auth" });
  client.send({ op: "sub", topic: "a.b", id: "s" });
  t.deepEqual(await client.waitFor((f) => f.op === "ack" && f.id === "auth"), { op: "ack", id: "auth" });
  t.like(await client.waitFor((f) => f.op === "subok"), { id: "s", topic: "a.b", seq: 0, recovered: true });
});

test("4001 exactly at exp without a refresh; a refresh before exp keeps the connection open", async (t) => {
  const edge = await startTestEdge(t, AUTH_ENV);
  // Both start with the same token, so both would be closed at the same instant without a refresh.
  const shortLived = await signToken({ expiresIn: 4 });
  const expiring = await TestClient.ready(edge.wsUrl, { token: shortLived });
  const refreshed = await TestClient.ready(edge.wsUrl, { token: shortLived });
  t.teardown(() => refreshed.close());
  t.deepEqual(await refreshed.request({ op: "auth", token: await signToken({ expiresIn: 3600 }), id: "r" }), {
    op: "ack",
    id: "r",
  });
  t.deepEqual(await expiring.waitForClose(), { code: 4001, reason: "token expired" });
  // The refreshed connection outlived the first token's exp.
  t.deepEqual(await refreshed.request({ op: "ping", id: 1 }), { op: "ack", id: 1 });
  t.is(refreshed.closed, undefined);
});

test("a refresh with fewer rights ends the subscriptions it no longer allows, with an err each", async (t) => {
  const edge = await startTestEdge(t, AUTH_ENV);
  const client = await TestClient.ready(edge.wsUrl, {
    token: await signToken({ subscribe: ["scores.>", "news.>"] }),
  });
  t.teardown(() => client.close());
  await client.subscribe("scores.a", undefined, "s1");
  await client.subscribe("news.a", undefined, "s2");
  t.deepEqual(
    await client.request({ op: "auth", token: await signToken({ subscribe: ["scores.>"] }), id: "r" }),
    { op: "ack", id: "r" },
  );
  t.deepEqual(
    client.frames.find((f) => f.op === "err"),
    {
      op: "err",
      id: "s2",
      code: "forbidden",
      message: 'subscription to "news.a" ended: the refreshed token does not allow it',
    },
  );
  t.is(
    (
      await postPublish(
        edge.url,
        [
          { topic: "news.a", data: 1 },
          { topic: "scores.a", data: 2 },
        ],
        WITH_KEY,
      )
    ).status,
    200,
  );
  await client.waitForMessages("scores.a", 1);
  t.is(client.messages("news.a").length, 0);
});

test("a refresh with a bad token is refused with err and keeps the current grants", async (t) => {
  const edge = await startTestEdge(t, AUTH_ENV);
  const client = await TestClient.ready(edge.wsUrl, { token: await signToken({}) });
  t.teardown(() => client.close());
  t.deepEqual(await client.request({ op: "auth", token: "x.y.z", id: 1 }), {
    op: "err",
    id: 1,
    code: "unauthenticated",
    message: "token is malformed",
  });
  t.like(await client.subscribe("a.b"), { op: "subok" });
});

test("4003: a refreshed token for another subject", async (t) => {
  const edge = await startTestEdge(t, AUTH_ENV);
  const client = await TestClient.ready(edge.wsUrl, { token: await signToken({ subject: "alice" }) });
  client.send({ op: "auth", token: await signToken({ subject: "bob" }), id: 1 });
  t.deepEqual(await client.waitForClose(), {
    code: CloseCode.Forbidden,
    reason: "a refreshed token must be for the same subject as the connection's token",
  });
});

test("4009: more subscriptions than HERALD_MAX_SUBSCRIPTIONS", async (t) => {
  const edge = await startTestEdge(t, { HERALD_MAX_SUBSCRIPTIONS: "2" });
  const client = await TestClient.ready(edge.wsUrl);
  await client.subscribe("t.1");
  await client.subscribe("t.2");
  client.send({ op: "sub", topic: "t.3", id: 3 });
  t.deepEqual(await client.waitForClose(), {
    code: CloseCode.LimitExceeded,
    reason: "more than 2 subscriptions on one connection",
  });
});

test("4009: a frame over HERALD_MAX_FRAME_BYTES", async (t) => {
  const edge = await startTestEdge(t, { HERALD_MAX_FRAME_BYTES: "1024" });
  const client = await TestClient.ready(edge.wsUrl);
  const frame = JSON.stringify({ op: "pub", topic: "a.b", id: 1, data: "x".repeat(1100) });
  client.send(frame);
  t.deepEqual(await client.waitForClose(), {
    code: 4009,
    reason: `frame of ${frame.length} bytes is over the limit of 1024 bytes`,
  });
});

test("4009: a frame over twice HERALD_MAX_FRAME_BYTES is refused unread", async (t) => {
  const edge = await startTestEdge(t, { HERALD_MAX_FRAME_BYTES: "1024" });
  const client = await TestClient.ready(edge.wsUrl);
  client.send({ op: "pub", topic: "a.b", id: 1, data: "x".repeat(5000) });
  t.deepEqual(await client.waitForClose(), {
    code: 4009,
    reason: "frame of more than 2048 bytes is over the limit of 1024 bytes",
  });
  t.is((await fetch(`${edge.url}/healthz`)).status, 200);
});

test("4009: more frames per second than HERALD_FRAMES_PER_SECOND (burst twice that)", async (t) => {
  const edge = await startTestEdge(t, { HERALD_FRAMES_PER_SECOND: "5" });
  const client = await TestClient.ready(edge.wsUrl);
  for (let i = 0; i < 30; i++) client.send({ op: "ping", id: i });
  t.deepEqual(await client.waitForClose(), { code: 4009, reason: "more than 5 frames per second" });
});

test("rate_limited: publishes beyond HERALD_PUBLISHES_PER_SECOND get err, the connection stays", async (t) => {
  const edge = await startTestEdge(t, { HERALD_PUBLISHES_PER_SECOND: "1" });
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  for (let i = 1; i <= 3; i++) client.send({ op: "pub", topic: "a.b", data: i, id: i });
  t.like(await client.waitFor((f) => f.op !== "welcome" && "id" in f && f.id === 1), { op: "ack", seq: 1 });
  t.like(await client.waitFor((f) => f.op !== "welcome" && "id" in f && f.id === 2), { op: "ack", seq: 2 });
  t.deepEqual(await client.waitFor((f) => f.op !== "welcome" && "id" in f && f.id === 3), {
    op: "err",
    id: 3,
    code: "rate_limited",
    message: "more than 1 publishes per second; slow down",
  });
  t.deepEqual(await client.request({ op: "ping", id: "alive" }), { op: "ack", id: "alive" });
});

test("4400: binary frames, invalid JSON and JSON that is not an object", async (t) => {
  const edge = await startTestEdge(t);
  const cases: [string | Buffer, string][] = [
    [Buffer.from([1, 2, 3]), "binary frames are not accepted; send JSON text frames"],
    ["{nope", "frame is not valid JSON"],
    ['["sub"]', "frame must be a JSON object"],
    ["42", "frame must be a JSON object"],
  ];
  for (const [frame, reason] of cases) {
    const client = await TestClient.ready(edge.wsUrl);
    client.ws.send(frame);
    t.deepEqual(await client.waitForClose(), { code: CloseCode.Malformed, reason });
  }
});

test("1001 and reconnect: drain tells every client to reconnect, then closes it", async (t) => {
  const edge = await startTestEdge(t, { HERALD_DRAIN_SECONDS: "1" });
  const clients = await Promise.all(Array.from({ length: 5 }, () => TestClient.ready(edge.wsUrl)));
  t.true(edge.ready());
  const drained = edge.drain();
  t.false(edge.ready());
  const readyz = await fetch(`${edge.url}/readyz`);
  t.is(readyz.status, 503);
  t.deepEqual(await readyz.json(), { error: { code: "unavailable", message: "draining" } });
  await t.throwsAsync(TestClient.connect(edge.wsUrl), { instanceOf: UpgradeRefused, message: /HTTP 503/ });
  for (const client of clients) {
    const closed = await client.waitForClose();
    t.is(closed.code, CloseCode.Draining);
    const reconnect = client.frames.find((f) => f.op === "reconnect");
    t.true(reconnect?.op === "reconnect" && reconnect.afterMs >= 0 && reconnect.afterMs < 1000);
    t.is(client.frames.at(-1)?.op, "reconnect");
  }
  await drained;
});

test("upgrade guards: wrong path, missing subprotocol, foreign origin, connection limit", async (t) => {
  const edge = await startTestEdge(t, {
    HERALD_ALLOWED_ORIGINS: "https://app.example",
    HERALD_MAX_CONNECTIONS: "1",
  });
  const refused = async (url: string, options: Parameters<typeof TestClient.connect>[1]) => {
    const error = await t.throwsAsync(TestClient.connect(url, options), { instanceOf: UpgradeRefused });
    return {
      status: (error as UpgradeRefused).status,
      body: JSON.parse((error as UpgradeRefused).body) as unknown,
    };
  };
  t.deepEqual(await refused(edge.wsUrl.replace("/v1/ws", "/ws"), {}), {
    status: 404,
    body: { error: { code: "not_found", message: "no WebSocket endpoint at /ws; use /v1/ws" } },
  });
  t.deepEqual(await refused(edge.wsUrl, { protocols: ["mqtt"] }), {
    status: 400,
    body: {
      error: {
        code: "bad_request",
        message: "the WebSocket subprotocol herald.v1 is required (Sec-WebSocket-Protocol)",
      },
    },
  });
  t.deepEqual(await refused(edge.wsUrl, { headers: { origin: "https://evil.example" } }), {
    status: 403,
    body: { error: { code: "forbidden", message: "origin https://evil.example is not allowed" } },
  });
  const first = await TestClient.ready(edge.wsUrl, { headers: { origin: "https://app.example" } });
  t.teardown(() => first.close());
  t.deepEqual(await refused(edge.wsUrl, {}), {
    status: 503,
    body: {
      error: { code: "unavailable", message: "this edge is at its limit of 1 connections; try another one" },
    },
  });
});

test("heartbeat: a peer that stops answering pings is dropped", async (t) => {
  const edge = await startTestEdge(t, { HERALD_HEARTBEAT_MS: "1000" });
  const client = await TestClient.connect(edge.wsUrl, {});
  // Stop answering pings: ws answers them automatically unless the socket stops reading.
  client.ws.pause();
  const dropped = async () =>
    (await edge.metrics.closes.get()).values.find((v) => v.labels.code === "1006")?.value;
  await waitFor("the silent peer to be dropped (close 1006)", dropped, {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  t.is(await dropped(), 1);
  t.is((await edge.metrics.connections.get()).values[0]?.value, 0);
  client.close();
});
