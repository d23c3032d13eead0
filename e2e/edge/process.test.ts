// The edge as a real process: SIGTERM drains (unready at once, reconnect frames, 1001 closes in
// waves, exit 0), and bad configuration is refused at start with one clear line per bad value.
import test from "ava";
import { spawnEdge } from "../harness/edge-process.js";
import { TEST_JWT_SECRET } from "../harness/tokens.js";
import { TestClient } from "../harness/ws-client.js";
import { postPublish } from "../harness/http.js";
import { waitFor } from "../harness/wait.js";

test("SIGTERM: /readyz fails at once, every client gets reconnect then 1001, the process exits 0", async (t) => {
  const edge = await spawnEdge(t, {
    HERALD_DRAIN_SECONDS: "2",
    HERALD_DRAIN_DELAY_MS: "3000",
    HERALD_LOG_LEVEL: "info",
  });
  const clients = await Promise.all(Array.from({ length: 20 }, () => TestClient.ready(edge.wsUrl)));
  t.teardown(() => clients.forEach((c) => c.close()));
  await Promise.all(clients.map((c) => c.subscribe("drain.t")));

  edge.kill("SIGTERM");
  // Unready before any connection is closed (the drain delay is still running).
  const readyz = await waitFor(
    "/readyz to turn 503",
    async () => {
      const status = (await fetch(`${edge.url}/readyz`)).status;
      return status === 200 ? undefined : status;
    },
    { timeoutMs: 10_000, intervalMs: 10 },
  );
  t.is(readyz, 503);
  t.true(
    clients.every((c) => c.closed === undefined),
    "nobody was closed before the drain delay",
  );

  const closes = await Promise.all(clients.map((c) => c.waitForClose()));
  t.true(closes.every((c) => c.code === 1001 && /^edge draining; reconnect in \d+ ms$/.test(c.reason)));
  const delays = clients.map((c) => {
    const reconnect = c.frames.find((f) => f.op === "reconnect");
    return reconnect?.op === "reconnect" ? reconnect.afterMs : -1;
  });
  t.true(
    delays.every((ms) => ms >= 0 && ms < 2000),
    `afterMs within the drain: ${delays.join(",")}`,
  );
  t.true(new Set(delays).size > 1, "afterMs are spread out");
  t.is(await edge.exited, 0);
  t.regex(edge.stdout(), /"event":"drain_started"/);
});

test("SIGINT drains too, and an edge without connections exits 0 at once", async (t) => {
  const edge = await spawnEdge(t, { HERALD_DRAIN_SECONDS: "30" });
  edge.kill("SIGINT");
  t.is(await edge.exited, 0);
});

test("bad configuration: one clear line per bad value, exit code 1", async (t) => {
  const edge = await spawnEdge(
    t,
    {
      HERALD_MAX_FRAME_BYTES: "big",
      HERALD_DRAIN_SECONDS: "-3",
      HERALD_ALLOW_ANONYMOUS: "maybe",
      HERALD_LOG_LEVEL: "loud",
      HERALD_JWT_SECRET: "short",
    },
    { waitReady: false },
  );
  t.is(await edge.exited, 1);
  t.deepEqual(edge.stderr().trim().split("\n"), [
    'herald: HERALD_ALLOW_ANONYMOUS must be true or false, got "maybe"',
    'herald: HERALD_MAX_FRAME_BYTES must be a whole number, got "big"',
    "herald: HERALD_DRAIN_SECONDS must be at least 0, got -3",
    'herald: HERALD_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    "herald: HERALD_JWT_SECRET must be at least 32 characters (HS256 needs a 256-bit key)",
  ]);
  t.is(edge.stdout(), "");
});

test("a key setting that can never work is refused at start like any bad value", async (t) => {
  const edge = await spawnEdge(t, { HERALD_JWKS_URL: "ftp://keys.example/jwks.json" }, { waitReady: false });
  t.is(await edge.exited, 1);
  t.is(edge.stderr(), 'herald: HERALD_JWKS_URL must be an http(s) URL, got "ftp://keys.example/jwks.json"\n');
});

test("a port already in use: the start fails with a clear log line and exit code 1", async (t) => {
  const first = await spawnEdge(t);
  const second = await spawnEdge(t, { HERALD_PORT: String(first.port) }, { waitReady: false });
  t.is(await second.exited, 1);
  const line = JSON.parse(second.stdout()) as { level: string; event: string; error: string };
  t.like(line, { level: "fatal", event: "start_failed" });
  t.regex(line.error, /^listen EADDRINUSE/);
});

test("logs: one JSON object per line, filtered by HERALD_LOG_LEVEL, never a secret", async (t) => {
  const apiKey = "api-key-that-must-never-be-logged";
  const secrets = { HERALD_JWT_SECRET: TEST_JWT_SECRET, HERALD_API_KEYS: apiKey };
  const verbose = await spawnEdge(t, { ...secrets, HERALD_LOG_LEVEL: "trace" });
  const quiet = await spawnEdge(t, { ...secrets, HERALD_LOG_LEVEL: "error" });
  for (const edge of [verbose, quiet]) {
    const client = await TestClient.connect(edge.wsUrl, { token: `${TEST_JWT_SECRET}.x.y` });
    await client.waitForClose();
    const published = await postPublish(
      edge.url,
      { topic: "log.t", data: "secret-payload" },
      { authorization: `Bearer ${apiKey}` },
    );
    t.is(published.status, 200);
    edge.kill("SIGTERM");
    t.is(await edge.exited, 0);
  }
  const lines = verbose.stdout().trim().split("\n");
  const events = lines.map((line) => (JSON.parse(line) as { event: string; level: string }).event);
  t.true(
    ["edge_started", "session_open", "session_close", "signal", "drain_started", "edge_closed"].every((e) =>
      events.includes(e),
    ),
    events.join(","),
  );
  for (const edge of [verbose, quiet]) {
    const output = edge.stdout() + edge.stderr();
    t.false(
      output.includes(TEST_JWT_SECRET) || output.includes(apiKey) || output.includes("secret-payload"),
      "no secret or message data in logs",
    );
  }
  t.is(quiet.stdout(), "", "nothing below error is logged at HERALD_LOG_LEVEL=error");
});
