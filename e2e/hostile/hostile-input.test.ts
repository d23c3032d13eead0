// The hostile-input table (e2e/hostile/rows-*.ts) against a real edge process: every row gets exactly the err
// frame, close code or HTTP answer it must. Meanwhile a well-behaved subscriber receives a steady
// stream published over HTTP; at the end it has every message once and in order, the edge is
// healthy, logged no error of its own, and its heap is back near its baseline.
import { isDeepStrictEqual } from "node:util";
import test from "ava";
import { OPS } from "../harness/expected-errors.js";
import { spawnEdge } from "../harness/edge-process.js";
import { signToken, TEST_API_KEY, TEST_JWT_SECRET } from "../harness/tokens.js";
import { chainProblem, TestClient } from "../harness/ws-client.js";
import { HEAP_PROBE, heapOf, MiB, mib } from "../harness/heap.js";
import { hostileKeys } from "./hostile-tokens.js";
import { authRows } from "./rows-auth.js";
import { connectionRows, LIMITS } from "./rows-connections.js";
import { frameRows } from "./rows-frames.js";
import { httpRows } from "./rows-http.js";
import { wireRows } from "./rows-wire.js";
import { errorBody, errRow, httpRow, postJson, type HostileContext, type Row } from "./row.js";
import { SteadyPublisher } from "./steady-stream.js";
import { waitFor } from "../harness/wait.js";

const STEADY_TOPIC = "steady.stream";

/** After every attempt above: an ordinary object in the edge shows no property smuggled in via __proto__. */
const pollutionProbes: Row[] = [
  errRow("no prototype pollution: an err for a frame without id carries no id", '{"op":"nope"}', {
    code: "invalid_frame",
    message: `unknown op "nope"; ${OPS}`,
  }),
  httpRow(
    "no prototype pollution: a body without topic still lacks one",
    "/v1/publish",
    postJson({ data: 1 }, { authorization: `Bearer ${TEST_API_KEY}` }),
    { status: 400, body: errorBody("bad_request", "missing field 'topic'") },
  ),
  httpRow(
    "no prototype pollution: a body without data still lacks it",
    "/v1/publish",
    postJson({ topic: "hostile.x" }, { authorization: `Bearer ${TEST_API_KEY}` }),
    { status: 400, body: errorBody("bad_request", "missing field 'data'") },
  ),
  errRow(
    "no prototype pollution: a pub frame without data still lacks it",
    '{"op":"pub","topic":"hostile.x","id":"probe"}',
    { id: "probe", code: "invalid_frame", message: "pub frame: missing field 'data'" },
  ),
];

const ROWS: Row[] = [
  ...frameRows,
  ...wireRows,
  ...authRows,
  ...connectionRows,
  ...httpRows,
  ...pollutionProbes,
];

test(`${ROWS.length} hostile inputs get their exact answers; a steady subscriber beside them misses nothing`, async (t) => {
  t.timeout(240_000);
  t.true(ROWS.length >= 50, "at least 50 hostile inputs");
  t.is(new Set(ROWS.map((r) => r.name)).size, ROWS.length, "row names are unique");

  const keys = await hostileKeys();
  const edge = await spawnEdge(
    t,
    {
      HERALD_JWT_SECRET: TEST_JWT_SECRET,
      HERALD_JWT_PUBLIC_KEY: keys.publicKeyPem,
      HERALD_API_KEYS: TEST_API_KEY,
      HERALD_ALLOW_ANONYMOUS: "false",
      HERALD_ALLOWED_ORIGINS: "https://app.example",
      HERALD_MAX_SUBSCRIPTIONS: "20",
      HERALD_FRAMES_PER_SECOND: "50",
      HERALD_PUBLISHES_PER_SECOND: "5",
      HERALD_HISTORY_READS_PER_SECOND: "20",
      HERALD_MAX_CONNECTIONS: String(LIMITS.maxConnections),
      HERALD_MAX_PENDING_UPGRADES: String(LIMITS.maxPendingUpgrades),
      HERALD_MAX_PENDING_PER_ADDRESS: String(LIMITS.maxPendingPerAddress),
      HERALD_UPGRADE_TIMEOUT_MS: String(LIMITS.upgradeTimeoutMs),
      HERALD_AUTH_TIMEOUT_MS: "1500",
      HERALD_HEARTBEAT_MS: "2000",
      // Small retention, so that what the log legitimately keeps does not hide a leak in the heap check.
      HERALD_MAX_MSGS_PER_TOPIC: "50",
      HERALD_CACHE_PER_TOPIC: "50",
    },
    HEAP_PROBE,
  );

  const subscriber = await TestClient.ready(edge.wsUrl, {
    token: await signToken({ subject: "steady", subscribe: ["steady.>"] }),
  });
  t.teardown(() => subscriber.close());
  const subok = await subscriber.subscribe(STEADY_TOPIC);
  const publisher = new SteadyPublisher(edge, STEADY_TOPIC, `Bearer ${TEST_API_KEY}`);
  t.teardown(() =>
    publisher.stop().then(
      () => undefined,
      () => undefined,
    ),
  );
  await subscriber.waitForMessages(STEADY_TOPIC, 20, 60_000);

  const token = await signToken({ subject: "hostile", subscribe: [">"], publish: ["hostile.>"] });
  const shared = await TestClient.ready(edge.wsUrl, { token });
  t.teardown(() => shared.close());
  const baseline = await heapOf(edge);
  t.true(baseline.gc, "the edge runs with --expose-gc");

  // Every row runs, whatever the ones before it did; the mismatches are asserted together.
  const mismatches: { name: string; actual: unknown; expected: unknown }[] = [];
  for (const hostile of ROWS) {
    const opened: (() => void)[] = [];
    const ctx: HostileContext = {
      scope: { teardown: (fn) => opened.push(fn) },
      edge,
      keys,
      token,
      shared,
      apiKey: TEST_API_KEY,
    };
    let actual: unknown;
    try {
      actual = await hostile.run(ctx);
    } catch (error) {
      actual = `threw: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      opened.forEach((close) => close());
    }
    if (!isDeepStrictEqual(actual, hostile.expect))
      mismatches.push({ name: hostile.name, actual, expected: hostile.expect });
    if (shared.closed)
      mismatches.push({
        name: hostile.name,
        actual: `closed the shared connection: ${JSON.stringify(shared.closed)}`,
        expected: "open",
      });
  }
  t.deepEqual(mismatches, [], "every hostile input gets exactly its expected answer");

  const published = await publisher.stop();
  const received = await subscriber.waitForMessages(STEADY_TOPIC, published, 60_000);
  await subscriber.request({ op: "ping", id: "last" });
  t.is(received.length, published, "every steady message exactly once");
  t.deepEqual(
    received.map((m) => m.data),
    Array.from({ length: published }, (_, i) => i + 1),
    "in publish order",
  );
  t.is(chainProblem(received, (subok as { seq: number }).seq), undefined, "an unbroken prev chain");
  t.is(subscriber.closed, undefined);
  t.log(`${ROWS.length} hostile rows; ${published} steady messages delivered`);

  t.deepEqual(await (await fetch(`${edge.url}/healthz`)).json(), { status: "ok" });
  t.deepEqual(await (await fetch(`${edge.url}/readyz`)).json(), { status: "ready" });
  // Bad input is the client's fault: the edge must not have logged an error or failure of its own.
  const ownErrors = edge
    .stdout()
    .split("\n")
    .filter((line) => /"level":"(error|fatal)"/.test(line));
  t.deepEqual(ownErrors, [], "no error logged by the edge");
  t.is(edge.stderr(), "", "nothing on stderr");

  shared.close();
  await waitFor(
    "only the steady subscriber to stay connected (herald_connections 1)",
    async () => /^herald_connections 1$/m.test(await (await fetch(`${edge.metricsUrl}/metrics`)).text()),
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  const after = await heapOf(edge);
  t.log(
    `heapUsed ${mib(baseline.heapUsed)} → ${mib(after.heapUsed)} MiB; arrayBuffers ${mib(baseline.arrayBuffers)} → ${mib(after.arrayBuffers)} MiB`,
  );
  // One pass of the table warms ~2 MiB of code and caches for good (repeated passes add nothing):
  // anything near the megabytes of hostile frames and bodies sent here would show.
  t.true(after.heapUsed < baseline.heapUsed + 6 * MiB, "heap back near baseline");
  t.true(after.arrayBuffers < baseline.arrayBuffers + 4 * MiB, "buffers back near baseline");
});
