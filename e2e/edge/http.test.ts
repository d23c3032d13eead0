// The HTTP API with credentials: API keys and JWTs decide who may publish and read history;
// probes, metrics and the demo files.
import test from "ava";
import { startTestEdge } from "../harness/test-edge.js";
import { signToken, TEST_API_KEY, TEST_JWT_SECRET } from "../harness/tokens.js";
import { TestClient } from "../harness/ws-client.js";

const SECURED = {
  HERALD_JWT_SECRET: TEST_JWT_SECRET,
  HERALD_API_KEYS: TEST_API_KEY,
  HERALD_ALLOW_ANONYMOUS: "false",
};

async function call(url: string, init: RequestInit & { bearer?: string; json?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (init.bearer) headers.authorization = `Bearer ${init.bearer}`;
  if (init.json !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(url, {
    ...init,
    headers,
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text.startsWith("{") || text.startsWith("[") ? (JSON.parse(text) as unknown) : text,
    headers: response.headers,
  };
}

/** POST /v1/publish of `json` (one message or a batch), as `bearer` when given. */
function publish(edgeUrl: string, json: unknown, bearer?: string) {
  return call(`${edgeUrl}/v1/publish`, { method: "POST", json, bearer });
}

test("publish needs credentials when anonymous access is off; API keys and JWTs with pub rights may", async (t) => {
  const edge = await startTestEdge(t, SECURED);
  t.like(await publish(edge.url, { topic: "a.b", data: 1 }), {
    status: 401,
    body: {
      error: {
        code: "unauthenticated",
        message: "send Authorization: Bearer <API key or JWT>; this edge accepts API keys, JWTs (HS256)",
      },
    },
  });
  t.like(await publish(edge.url, { topic: "a.b", data: 1 }, TEST_API_KEY), {
    status: 200,
    body: { seq: 1, dup: false },
  });
  const writer = await signToken({ publish: ["a.*"] });
  t.like(
    await publish(
      edge.url,
      [
        { topic: "a.b", data: 2 },
        { topic: "a.c", data: 3 },
      ],
      writer,
    ),
    {
      status: 200,
      body: [
        { seq: 2, dup: false },
        { seq: 3, dup: false },
      ],
    },
  );
  t.like(
    await publish(
      edge.url,
      [
        { topic: "a.b", data: 4 },
        { topic: "x.y", data: 5 },
      ],
      writer,
    ),
    {
      status: 403,
      body: { error: { code: "forbidden", message: 'message 1: not allowed to publish to "x.y"' } },
    },
  );
  const expired = await signToken({ publish: [">"], expiresIn: -60 });
  t.like(await publish(edge.url, { topic: "a.b", data: 6 }, expired), {
    status: 401,
    body: { error: { code: "unauthenticated", message: "token has expired" } },
  });
  // msgId dedupes over HTTP too.
  t.like(await publish(edge.url, { topic: "a.b", data: 7, msgId: "once" }, TEST_API_KEY), {
    body: { seq: 4, dup: false },
  });
  t.like(await publish(edge.url, { topic: "a.b", data: 7, msgId: "once" }, TEST_API_KEY), {
    body: { seq: 4, dup: true },
  });
});

test("history: pages after a position, needs subscribe rights on the topic", async (t) => {
  const edge = await startTestEdge(t, SECURED);
  const items = Array.from({ length: 5 }, (_, i) => ({ topic: "feed.1", data: { i } }));
  t.is((await publish(edge.url, items, TEST_API_KEY)).status, 200);
  const page = await call(`${edge.url}/v1/topics/feed.1/messages?after=2&limit=2`, { bearer: TEST_API_KEY });
  t.is(page.status, 200);
  const body = page.body as {
    topic: string;
    epoch: string;
    recovered: boolean;
    messages: { seq: number; prev: number; data: unknown; ts: number }[];
  };
  t.like(body, { topic: "feed.1", recovered: true });
  t.deepEqual(
    body.messages.map((m) => [m.seq, m.prev, m.data]),
    [
      [3, 2, { i: 2 }],
      [4, 3, { i: 3 }],
    ],
  );
  t.like(
    await call(`${edge.url}/v1/topics/feed.1/messages`, {
      bearer: await signToken({ subscribe: ["other.>"] }),
    }),
    {
      status: 403,
      body: { error: { code: "forbidden", message: 'not allowed to read "feed.1"' } },
    },
  );
  t.like(await call(`${edge.url}/v1/topics/feed.1/messages`), { status: 401 });
  const reader = await call(`${edge.url}/v1/topics/feed.1/messages?after=4`, {
    bearer: await signToken({ subscribe: ["feed.*"] }),
  });
  t.deepEqual(
    (reader.body as typeof body).messages.map((m) => m.seq),
    [5],
  );
});

test("probes, metrics and the demo page", async (t) => {
  const edge = await startTestEdge(t);
  t.deepEqual(await call(`${edge.url}/healthz`).then((r) => [r.status, r.body]), [200, { status: "ok" }]);
  t.deepEqual(await call(`${edge.url}/readyz`).then((r) => [r.status, r.body]), [200, { status: "ready" }]);

  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  await client.subscribe("m.t");
  await publish(edge.url, { topic: "m.t", data: 1 });
  await client.waitForMessages("m.t", 1);
  client.send("not json");
  await client.waitForClose();
  const metrics = await call(`${edge.metricsUrl}/metrics`);
  t.is(metrics.status, 200);
  t.regex(metrics.headers.get("content-type") ?? "", /^text\/plain/);
  for (const line of [
    'herald_messages_in_total{via="http"} 1',
    "herald_deliveries_total 1",
    'herald_rejected_frames_total{code="invalid_frame"} 1',
    'herald_closes_total{code="4400"} 1',
  ]) {
    t.true((metrics.body as string).split("\n").includes(line), line);
  }

  const page = await call(`${edge.url}/`);
  t.is(page.status, 200);
  t.regex(page.headers.get("content-type") ?? "", /^text\/html/);
  t.regex(page.body as string, /<script type="module" src="demo.js">/);
  const script = await call(`${edge.url}/demo.js`);
  t.is(script.status, 200);
  t.regex(script.headers.get("content-type") ?? "", /^text\/javascript/);
  t.like(await call(`${edge.url}/..%2Fserver.ts`), { status: 404 });
});

test("startEdge on a port in use rejects with the listen error; the edge on it is unaffected", async (t) => {
  const first = await startTestEdge(t);
  const error = await t.throwsAsync(startTestEdge(t, { HERALD_PORT: String(first.port) }));
  t.regex(error?.message ?? "", /EADDRINUSE/);
  t.is((await fetch(`${first.url}/readyz`)).status, 200);
});
