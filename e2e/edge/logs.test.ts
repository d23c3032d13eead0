// The edge's logs through pino: one JSON object per line, every line about a connection carries its
// session id, HTTP access lines, refusals at info; and no token or API key is ever printed, in a
// run that uses both in every place they can appear (the upgrade's ?token=, auth frames, HTTP
// Bearer, the admin endpoint, refused ones too). The logger also redacts credential-named fields.
import test from "ava";
import { createLogger } from "../../shared/log.js";
import { spawnEdge } from "../harness/edge-process.js";
import { history, publish } from "../harness/http.js";
import { signToken, TEST_API_KEY, TEST_JWT_SECRET } from "../harness/tokens.js";
import { TestClient } from "../harness/ws-client.js";

interface Line {
  level: string;
  event: string;
  session?: string;
  notificationservice?: string;
  [field: string]: unknown;
}

test("a run with tokens and API keys everywhere: structured lines, sessions and refusals in them, no credential", async (t) => {
  const edge = await spawnEdge(t, {
    HERALD_JWT_SECRET: TEST_JWT_SECRET,
    HERALD_API_KEYS: TEST_API_KEY,
    HERALD_ALLOW_ANONYMOUS: "false",
    HERALD_LOG_LEVEL: "trace",
    HERALD_NOTIFICATION_SERVICE: "prod/news",
  });
  const token = await signToken({ publish: [">"] });
  const refresh = await signToken({ publish: [">"], expiresIn: 7200 });
  const byQuery = await TestClient.ready(`${edge.wsUrl}?token=${encodeURIComponent(token)}`);
  await byQuery.subscribe("logs.topic");
  t.like(await byQuery.request({ op: "auth", token: refresh, id: "r" }), { op: "ack" });
  const byFrame = await TestClient.ready(edge.wsUrl);
  t.like(await byFrame.request({ op: "auth", token, id: "a" }), { op: "ack" });
  t.like(await byFrame.request({ op: "pub", topic: "logs.topic", data: 1, id: "p" }), { op: "ack" });
  await publish(edge.url, { topic: "logs.topic", data: 2 }, TEST_API_KEY);
  await history(edge.url, "logs.topic", { bearer: TEST_API_KEY });
  await publish(edge.url, { topic: "logs.topic", data: 3 }, token);
  t.is(
    (
      await fetch(`${edge.metricsUrl}/v1/admin/stats`, {
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
      })
    ).status,
    200,
  );
  // Refused ones: a wrong API key, a tampered token on the upgrade and in a first auth frame.
  const wrongKey = `${TEST_API_KEY}-wrong`;
  const tampered = `${token.slice(0, -4)}AAAA`;
  const refusedHttp = await fetch(`${edge.url}/v1/publish`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${wrongKey}` },
    body: JSON.stringify({ topic: "logs.topic", data: 4 }),
  });
  t.is(refusedHttp.status, 401);
  const refusedUpgrade = await TestClient.connect(`${edge.wsUrl}?token=${tampered}`);
  t.like(await refusedUpgrade.waitForClose(), { code: 4001 });
  const refusedFrame = await TestClient.ready(edge.wsUrl);
  refusedFrame.send({ op: "auth", token: tampered, id: 1 });
  t.like(await refusedFrame.waitForClose(), { code: 4001 });
  byQuery.close();
  byFrame.close();
  edge.kill("SIGTERM");
  t.is(await edge.exited, 0);

  const output = edge.stdout() + edge.stderr();
  for (const [what, secret] of [
    ["token", token],
    ["refreshed token", refresh],
    ["tampered token", tampered],
    ["API key", TEST_API_KEY],
    ["wrong API key", wrongKey],
    ["JWT secret", TEST_JWT_SECRET],
  ] as const)
    t.false(output.includes(secret), `the ${what} is not in the logs`);
  // A token's signature alone would be enough to recognise it.
  t.false(output.includes(token.split(".")[2]!));

  const lines = edge
    .stdout()
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Line);
  t.true(lines.every((line) => line.notificationservice === "prod/news" && typeof line.time === "string"));
  const closes = lines.filter((line) => line.event === "session_close");
  t.true(closes.length >= 2);
  t.true(closes.every((line) => typeof line.session === "string" && line.session.length > 0));
  const refusedCloses = closes.filter((line) => line.code === 4001);
  t.is(refusedCloses.length, 2);
  t.true(refusedCloses.every((line) => line.level === "info" && typeof line.reason === "string"));
  const access = lines.filter((line) => line.event === "http_request");
  t.like(
    access.find((line) => line.route === "/v1/publish" && line.status === 200),
    { level: "info", method: "POST", path: "/v1/publish" },
  );
  t.like(
    lines.find((line) => line.event === "auth_refused"),
    { level: "info", code: "unauthenticated", reason: "unknown API key", route: "/v1/publish" },
  );
  t.truthy(access.find((line) => line.route === "/v1/admin/stats" && line.status === 200));
});

test("the logger redacts credential-named fields, also one level down, as a safety net", (t) => {
  const lines: string[] = [];
  const log = createLogger("info", { write: (line) => lines.push(line) });
  log.log("info", "oops", { token: "t0k3n", apiKey: "k3y", authorization: "Bearer x", topic: "a.b" });
  log.child({ session: "s1" }).log("warn", "nested", { password: "pw" });
  log.log("debug", "hidden", { topic: "below the level" });
  const [first, second] = lines.map((line) => JSON.parse(line) as Line);
  t.like(first, {
    level: "info",
    event: "oops",
    token: "[redacted]",
    apiKey: "[redacted]",
    authorization: "[redacted]",
    topic: "a.b",
  });
  t.like(second, { level: "warn", event: "nested", session: "s1", password: "[redacted]" });
  t.is(lines.length, 2);
});
