// GET /v1/sse against a real edge (in this process): the same frames as the WebSocket's as event
// data, the stream position as event id and Last-Event-ID resuming exactly, the WebSocket's
// entitlement (401 before the stream, a forbidden topic's err while the others go on), its
// slow-consumer bound (4008), heartbeat comments, the drain, and CORS for pages on other origins.
import { connect } from "node:net";
import test from "ava";
import { CloseCode } from "../../protocol/codes.js";
import { decodeStreamPosition } from "../../protocol/sse.js";
import { freePort } from "../../e2e/harness/free-port.js";
import { publish, range } from "../../e2e/harness/http.js";
import { TestClient } from "../../e2e/harness/ws-client.js";
import { startTestEdge } from "../../e2e/harness/test-edge.js";
import { signToken, TEST_API_KEY, TEST_EDGE_ENV } from "../../e2e/harness/tokens.js";
import { waitFor } from "../../e2e/harness/wait.js";
import { openSse, type SseStream } from "./test/sse-reader.js";

interface Msg {
  op: "msg";
  topic: string;
  seq: number;
  prev: number;
  data: { n: number };
}

const closedOpen = (t: { teardown(fn: () => void): void }, stream: SseStream) => {
  t.teardown(() => stream.close());
  return stream;
};

async function publishNumbers(url: string, topic: string, numbers: number[]): Promise<void> {
  for (const n of numbers) await publish(url, { topic, data: { n } }, TEST_API_KEY);
}

test("a stream of two topics: welcome, a subok per topic, then every msg with the stream position as id", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  await publishNumbers(edge.url, "sse.a", [1, 2]);
  const stream = closedOpen(t, await openSse(`${edge.url}/v1/sse?topic=sse.a&topic=sse.b&from=last:10`));
  t.is(stream.status, 200);
  t.regex(stream.headers.get("content-type") ?? "", /^text\/event-stream/);
  await waitFor("two suboks", () => stream.frames("subok").length === 2);
  await publishNumbers(edge.url, "sse.b", [3]);
  await publishNumbers(edge.url, "sse.a", [4]);
  await waitFor("4 messages", () => stream.frames("message").length === 4);

  t.is(stream.frames("welcome").length, 1);
  const messages = stream.frames<Msg>();
  t.deepEqual(
    messages.map((m) => [m.topic, m.data.n]),
    [
      ["sse.a", 1],
      ["sse.a", 2],
      ["sse.b", 3],
      ["sse.a", 4],
    ],
  );
  // Every msg event's id is where every topic of the stream stands after it.
  const byTopic = new Map<string, number>();
  for (const event of stream.events.filter((e) => e.event === "message")) {
    const msg = JSON.parse(event.data) as Msg;
    byTopic.set(msg.topic, msg.seq);
    const entries = decodeStreamPosition(event.id!, 2)!;
    t.is(entries[0]?.seq, byTopic.get("sse.a") ?? 0);
    t.is(entries[1]?.seq, byTopic.get("sse.b") ?? 0);
  }
});

test("the data of every msg event is the very text the WebSocket sends for that message", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const ws = await TestClient.ready(edge.wsUrl);
  t.teardown(() => ws.close());
  await ws.subscribe("same.a");
  const stream = closedOpen(t, await openSse(`${edge.url}/v1/sse?topic=same.a`));
  await waitFor("subok", () => stream.frames("subok").length === 1);
  await publish(
    edge.url,
    { topic: "same.a", data: { n: 1, text: "é \n \u2028", list: [1.5, null] } },
    TEST_API_KEY,
  );
  await publish(edge.url, { topic: "same.a", data: null }, TEST_API_KEY);
  await ws.waitForMessages("same.a", 2);
  await waitFor("2 msg events", () => stream.frames().length === 2);
  const wsLines = ws.rawFrames
    .flatMap((text) => text.split("\n"))
    .filter((line) => line.startsWith('{"op":"msg"'));
  t.deepEqual(
    stream.events.filter((event) => event.event === "message").map((event) => event.data),
    wsLines,
  );
  t.is(wsLines.length, 2);
  // Welcome: the same frame, but for its session id.
  const welcome = (frame: Record<string, unknown>) => ({ ...frame, session: "" });
  t.deepEqual(welcome(stream.frames("welcome")[0]!), welcome(ws.frames.find((f) => f.op === "welcome")!));
});

test("Last-Event-ID resumes every topic exactly where the stream stood: nothing missed, nothing twice", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const url = `${edge.url}/v1/sse?topic=resume.a,resume.b`;
  const first = closedOpen(t, await openSse(url));
  await waitFor("two suboks", () => first.frames("subok").length === 2);
  await publishNumbers(edge.url, "resume.a", range(3));
  await publishNumbers(edge.url, "resume.b", range(2, 10));
  await waitFor("5 messages", () => first.frames().length === 5);
  first.close();
  await first.ended;
  // Published while nobody listens.
  await publishNumbers(edge.url, "resume.b", [12]);
  await publishNumbers(edge.url, "resume.a", [4, 5]);

  const second = closedOpen(t, await openSse(url, { "last-event-id": first.lastEventId }));
  await waitFor("the missed 3", () => second.frames().length === 3);
  await publishNumbers(edge.url, "resume.a", [6]);
  await waitFor("and a live one", () => second.frames().length === 4);
  const got = (s: SseStream, topic: string) =>
    s
      .frames<Msg>()
      .filter((m) => m.topic === topic)
      .map((m) => m.data.n);
  t.deepEqual([...got(first, "resume.a"), ...got(second, "resume.a")], range(6));
  t.deepEqual([...got(first, "resume.b"), ...got(second, "resume.b")], [10, 11, 12]);
  t.true(second.frames<{ recovered: boolean }>("subok").every((subok) => subok.recovered));

  // The same position given as ?from= (what a page keeps across a reload) resumes the same way.
  const third = closedOpen(t, await openSse(`${url}&from=${encodeURIComponent(second.lastEventId)}`));
  await publishNumbers(edge.url, "resume.b", [13]);
  await waitFor("only the next one", () => third.frames().length === 1);
  t.deepEqual(got(third, "resume.b"), [13]);
});

test("entitlement: no token or a bad one is refused before the stream with the HTTP API's error; a forbidden topic gets err", async (t) => {
  const edge = await startTestEdge(t, { ...TEST_EDGE_ENV, HERALD_ALLOW_ANONYMOUS: "false" });
  const none = await openSse(`${edge.url}/v1/sse?topic=scores.a`);
  t.is(none.status, 401);
  t.like(JSON.parse(none.body), { error: { code: "unauthenticated" } });
  const bad = await openSse(`${edge.url}/v1/sse?topic=scores.a&token=not.a.jwt`);
  t.is(bad.status, 401);
  t.like(JSON.parse(bad.body), { error: { code: "unauthenticated" } });
  const expired = await signToken({ expiresIn: -10 });
  t.is(
    (await openSse(`${edge.url}/v1/sse?topic=scores.a`, { authorization: `Bearer ${expired}` })).status,
    401,
  );

  const token = await signToken({ subscribe: ["scores.>"] });
  const stream = closedOpen(
    t,
    await openSse(`${edge.url}/v1/sse?topic=secret.a,scores.a`, { authorization: `Bearer ${token}` }),
  );
  await waitFor(
    "the refusal and the other subok",
    () => stream.frames("err").length === 1 && stream.frames("subok").length === 1,
  );
  t.like(stream.frames("err")[0], { op: "err", id: 0, code: "forbidden" });
  t.like(stream.frames("subok")[0], { topic: "scores.a", id: 1 });
  await publishNumbers(edge.url, "scores.a", [1]);
  await waitFor("the allowed topic's message", () => stream.frames().length === 1);

  // The token in the query, as a plain EventSource sends it.
  const query = closedOpen(t, await openSse(`${edge.url}/v1/sse?topic=scores.a&token=${token}`));
  t.is(query.status, 200);
  await waitFor("subok", () => query.frames("subok").length === 1);
});

test("a token that expires ends its stream with close 4001; the same URL is then refused with 401", async (t) => {
  const edge = await startTestEdge(t, { ...TEST_EDGE_ENV, HERALD_ALLOW_ANONYMOUS: "false" });
  const token = await signToken({ expiresIn: 2, subscribe: ["exp.>"] });
  const url = `${edge.url}/v1/sse?topic=exp.a&token=${token}`;
  const stream = closedOpen(t, await openSse(url));
  t.is(stream.status, 200);
  await stream.ended;
  t.deepEqual(
    stream.frames<{ code: number }>("close").map((close) => close.code),
    [CloseCode.Unauthenticated],
  );
  const again = await openSse(url);
  t.is(again.status, 401);
  t.like(JSON.parse(again.body), { error: { code: "unauthenticated" } });
});

test("malformed streams are refused with 400 (429 past the topic limit) and say why", async (t) => {
  const edge = await startTestEdge(t, { ...TEST_EDGE_ENV, HERALD_MAX_SUBSCRIPTIONS: "3" });
  // The statuses docs/protocol.md gives: 400, and 429 for more topics than maxSubscriptions.
  const cases: [string, number, string, RegExp][] = [
    ["?topic=a..b", 400, "invalid_topic", /empty token/],
    ["?topic=a,a", 400, "bad_request", /listed twice/],
    ["?topic=a,b,c,d", 429, "limit_exceeded", /at most 3 topics/],
    ["?topic=a&from=zz", 400, "bad_request", /from must be "live", "last:K" or a stream position/],
    ["?topic=a,b&from=1@e", 400, "bad_request", /stream position of this stream's 2 topics/],
    ["?topic=a", 400, "bad_request", /Last-Event-ID must be "live", "last:K" or a stream position/],
  ];
  for (const [query, status, code, message] of cases) {
    const headers: Record<string, string> = query === "?topic=a" ? { "last-event-id": "not-a-position" } : {};
    const refused = await openSse(`${edge.url}/v1/sse${query}`, headers);
    t.is(refused.status, status, query);
    const body = JSON.parse(refused.body) as { error: { code: string; message: string } };
    t.is(body.error.code, code, query);
    t.regex(body.error.message, message, query);
  }
});

test("a client that does not read is closed with 4008 once its send buffer is full, as on the WebSocket", async (t) => {
  const edge = await startTestEdge(t, {
    ...TEST_EDGE_ENV,
    HERALD_SEND_BUFFER_BYTES: String(128 * 1024),
    HERALD_HEARTBEAT_MS: "600000",
  });
  const socket = connect(edge.port, "127.0.0.1");
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(`GET /v1/sse?topic=slow.a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  let text = "";
  socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
  await waitFor("the stream's subok", () => text.includes("event: subok"));
  socket.pause();
  const padding = "x".repeat(8000);
  const closes = async () =>
    (await edge.metrics.closes.get()).values.find((v) => v.labels.code === String(CloseCode.SlowConsumer))
      ?.value ?? 0;
  for (let round = 0; round < 400 && (await closes()) === 0; round++) {
    await publish(
      edge.url,
      range(10).map((n) => ({ topic: "slow.a", data: { n, padding } })),
      TEST_API_KEY,
    );
  }
  t.is(await closes(), 1);
  socket.resume();
  await waitFor("the close event", () => text.includes("event: close"));
  t.regex(
    text,
    /event: close\r?\n?(?:[0-9a-f]+\r\n)?data: \{"code":4008,"reason":"send buffer of 131072 bytes exceeded/,
  );
});

test("heartbeat comments keep the stream warm; a draining edge asks the stream to come back after a while", async (t) => {
  const edge = await startTestEdge(t, {
    ...TEST_EDGE_ENV,
    HERALD_HEARTBEAT_MS: "1000",
    HERALD_DRAIN_SECONDS: "0",
  });
  const stream = closedOpen(t, await openSse(`${edge.url}/v1/sse?topic=hb.a`));
  await waitFor("two heartbeats", () => stream.comments.filter((c) => c === "heartbeat").length >= 2);
  void edge.drain();
  await stream.ended;
  const reconnect = stream.frames<{ afterMs: number }>("reconnect");
  t.is(reconnect.length, 1);
  t.is(stream.retry, reconnect[0]!.afterMs);
  t.like(stream.frames("close")[0], { code: 1001 });
});

test("pages on other origins may open the stream, publish and load /client.js (CORS)", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const origin = "https://app.example";
  const preflight = await fetch(`${edge.url}/v1/sse?topic=a`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-headers": "authorization,last-event-id" },
  });
  t.is(preflight.status, 204);
  t.is(preflight.headers.get("access-control-allow-origin"), "*");
  t.regex(preflight.headers.get("access-control-allow-headers") ?? "", /authorization.*last-event-id/);
  t.is(preflight.headers.get("access-control-max-age"), "600", "browsers cache the preflight");
  const publishPreflight = await fetch(`${edge.url}/v1/publish`, { method: "OPTIONS", headers: { origin } });
  t.is(publishPreflight.status, 204);
  t.regex(publishPreflight.headers.get("access-control-allow-headers") ?? "", /content-type/);
  const bundle = await fetch(`${edge.url}/client.js`, { headers: { origin } });
  t.is(bundle.status, 200);
  t.is(bundle.headers.get("access-control-allow-origin"), "*");
  // A module script must come as JavaScript, and be the SDK's bundle.
  t.regex(bundle.headers.get("content-type") ?? "", /^(text|application)\/javascript/);
  t.regex(await bundle.text(), /HeraldClient/);

  const limited = await startTestEdge(t, { ...TEST_EDGE_ENV, HERALD_ALLOWED_ORIGINS: origin });
  const other = await openSse(`${limited.url}/v1/sse?topic=a`, { origin: "https://evil.example" });
  t.is(other.status, 403);
  const allowed = closedOpen(t, await openSse(`${limited.url}/v1/sse?topic=a`, { origin }));
  t.is(allowed.status, 200);
  t.is(allowed.headers.get("access-control-allow-origin"), origin);
  // /client.js answers the allowed origin only, and says it varies by origin (caches).
  const allowedBundle = await fetch(`${limited.url}/client.js`, { headers: { origin } });
  t.is(allowedBundle.headers.get("access-control-allow-origin"), origin);
  t.regex(allowedBundle.headers.get("vary") ?? "", /origin/i);
  const otherBundle = await fetch(`${limited.url}/client.js`, {
    headers: { origin: "https://evil.example" },
  });
  t.is(otherBundle.headers.get("access-control-allow-origin"), null);
});

test("a subscription refused for now (the log unreachable) ends the stream with 1013 and retry:, so it is asked for again", async (t) => {
  const port = await freePort();
  // NATS is not there (yet): the edge runs, and refuses subscriptions with `unavailable`.
  const edge = await startTestEdge(t, {
    ...TEST_EDGE_ENV,
    HERALD_NATS_URL: `nats://127.0.0.1:${port}`,
    HERALD_ALLOW_ANONYMOUS: "true",
  });
  const stream = closedOpen(t, await openSse(`${edge.url}/v1/sse?topic=later.a`));
  await stream.ended;
  t.like(stream.frames("err")[0], { op: "err", id: 0, code: "unavailable" });
  t.like(stream.frames("close")[0], { code: 1013 });
  t.true(stream.retry! >= 1000 && stream.retry! < 2000, `retry: ${stream.retry}`);
});
