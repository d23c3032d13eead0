// Hostile upgrades and connections: bad Origin, missing or wrong handshake headers, oversized
// headers, upgrades that never complete (one, and more than maxPendingUpgrades at once), requests
// that stall on a kept-alive connection, and more than maxConnections WebSockets.
import { TestClient, UpgradeRefused } from "../harness/ws-client.js";
import { RawConnection, upgradeRequest } from "./raw-socket.js";
import { answerBeforeClose, errorBody, row, upgradeRow, type HostileContext, type Row } from "./row.js";
import { waitFor } from "../harness/wait.js";

export const LIMITS = { maxConnections: 40, maxPendingUpgrades: 20, upgradeTimeoutMs: 2500 } as const;

// Node's parser refuses a header block over the limit before any route; the edge answers in herald's format.
const HEADERS_TOO_LARGE = {
  status: 431,
  body: errorBody("headers_too_large", "request line and headers are over the limit of 32768 bytes"),
};
const TIMED_OUT = { status: 408, body: errorBody("request_timeout", "the request did not arrive in time") };
const SUBPROTOCOL_REQUIRED = errorBody(
  "bad_request",
  "the WebSocket subprotocol herald.v1 is required (Sec-WebSocket-Protocol)",
);

/** Opens `count` raw connections at once. */
const openMany = (ctx: HostileContext, count: number) =>
  Promise.all(Array.from({ length: count }, () => RawConnection.open(ctx.scope, ctx.edge.port)));

/** Waits until the edge accepts and answers a fresh connection again (after rows that exhaust a bound). */
async function untilFreshConnectionsServed(ctx: HostileContext): Promise<void> {
  await waitFor(
    "the edge to serve fresh connections again",
    async () => {
      const connection = await RawConnection.open(ctx.scope, ctx.edge.port);
      connection.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      return connection.waitForEnd().then((text) => text.startsWith("HTTP/1.1 200"));
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

async function openConnections(ctx: HostileContext): Promise<number> {
  const text = await (await fetch(`${ctx.edge.metricsUrl}/metrics`)).text();
  return Number(/^herald_connections (\d+)$/m.exec(text)?.[1]);
}

export const connectionRows: Row[] = [
  upgradeRow(
    "Origin not in HERALD_ALLOWED_ORIGINS",
    { headers: { Origin: "https://evil.example" } },
    { status: 403, body: errorBody("forbidden", "origin https://evil.example is not allowed") },
  ),
  upgradeRow(
    "Origin null (sandboxed page)",
    { headers: { Origin: "null" } },
    { status: 403, body: errorBody("forbidden", "origin null is not allowed") },
  ),
  upgradeRow(
    "allowed Origin with a different port",
    { headers: { Origin: "https://app.example:8443" } },
    { status: 403, body: errorBody("forbidden", "origin https://app.example:8443 is not allowed") },
  ),
  upgradeRow(
    "allowed Origin is accepted",
    { headers: { Origin: "https://app.example" } },
    { status: 101, body: "" },
  ),
  upgradeRow(
    "no subprotocol",
    { headers: { "Sec-WebSocket-Protocol": null } },
    { status: 400, body: SUBPROTOCOL_REQUIRED },
  ),
  upgradeRow(
    "another subprotocol",
    { headers: { "Sec-WebSocket-Protocol": "herald.v2, mqtt" } },
    { status: 400, body: SUBPROTOCOL_REQUIRED },
  ),
  upgradeRow(
    "upgrade on another path",
    { path: "/v1/ws/../admin" },
    { status: 404, body: errorBody("not_found", "no WebSocket endpoint at /v1/admin; use /v1/ws") },
  ),
  upgradeRow(
    "upgrade without Sec-WebSocket-Key",
    { headers: { "Sec-WebSocket-Key": null } },
    { status: 400, body: errorBody("bad_request", "Sec-WebSocket-Key must be 16 random bytes in base64") },
  ),
  upgradeRow(
    "upgrade with a short Sec-WebSocket-Key",
    { headers: { "Sec-WebSocket-Key": "c2hvcnQ=" } },
    { status: 400, body: errorBody("bad_request", "Sec-WebSocket-Key must be 16 random bytes in base64") },
  ),
  upgradeRow(
    "upgrade with Sec-WebSocket-Version 12",
    { headers: { "Sec-WebSocket-Version": "12" } },
    { status: 400, body: errorBody("bad_request", "Sec-WebSocket-Version must be 13") },
  ),
  upgradeRow(
    "upgrade with POST",
    { method: "POST" },
    { status: 405, body: errorBody("method_not_allowed", "a WebSocket upgrade must use GET, not POST") },
  ),
  upgradeRow(
    "upgrade to another protocol (Upgrade: h2c)",
    { headers: { Upgrade: "h2c" } },
    { status: 400, body: errorBody("bad_request", "the Upgrade header must be websocket") },
  ),
  upgradeRow(
    "unparsable Sec-WebSocket-Protocol (refused by ws, in herald's format)",
    { headers: { "Sec-WebSocket-Protocol": "herald.v1, " } },
    {
      status: 400,
      body: errorBody("bad_request", "malformed WebSocket upgrade: Invalid Sec-WebSocket-Protocol header"),
    },
  ),
  upgradeRow(
    "upgrade with a 40 KiB header",
    { headers: { "X-Filler": "f".repeat(40 * 1024) } },
    HEADERS_TOO_LARGE,
  ),
  upgradeRow(
    "upgrade with 5,000 small headers",
    { headers: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`X-H${i}`, "v"])) },
    HEADERS_TOO_LARGE,
  ),

  row("upgrade that never completes is cut after upgradeTimeoutMs, unanswered", "", async (ctx) => {
    const connection = await RawConnection.open(ctx.scope, ctx.edge.port);
    connection.write(upgradeRequest(ctx.edge.port).split("\r\n").slice(0, 3).join("\r\n") + "\r\n");
    return connection.waitForEnd();
  }),
  row("silent connection (not one byte) is cut after upgradeTimeoutMs", "", async (ctx) => {
    const connection = await RawConnection.open(ctx.scope, ctx.edge.port);
    return connection.waitForEnd();
  }),
  row(
    "POST whose body never arrives is answered 408 after upgradeTimeoutMs (requestTimeout)",
    TIMED_OUT,
    async (ctx) => {
      const connection = await RawConnection.open(ctx.scope, ctx.edge.port);
      connection.write(
        `POST /v1/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"topic"`,
      );
      // Well within the 30 s that Node would otherwise take to notice (its default checking interval).
      await connection.waitForEnd(LIMITS.upgradeTimeoutMs + 10_000);
      return answerBeforeClose(connection.received);
    },
  ),
  row(
    "request that stalls on a kept-alive connection is answered 408 too",
    { first: 200, second: TIMED_OUT },
    async (ctx) => {
      const connection = await RawConnection.open(ctx.scope, ctx.edge.port);
      connection.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      const first = await connection.waitForResponse();
      const answered = connection.received.length;
      connection.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
      await connection.waitForEnd(LIMITS.upgradeTimeoutMs + 10_000);
      return { first: first.status, second: answerBeforeClose(connection.received.subarray(answered)) };
    },
  ),
  row(
    `more than maxPendingUpgrades (${LIMITS.maxPendingUpgrades}) slow upgrades: the extra one is cut when it turns slow, the others at upgradeTimeoutMs`,
    {
      extraCut: "",
      othersOpenWhenExtraCut: true,
      othersCut: new Array(LIMITS.maxPendingUpgrades).fill(""),
      servedAgainAfterwards: true,
    },
    async (ctx) => {
      const stalled = await openMany(ctx, LIMITS.maxPendingUpgrades);
      for (const connection of stalled) connection.write("GET /v1/ws HTTP/1.1\r\n");
      const extra = await RawConnection.open(ctx.scope, ctx.edge.port);
      extra.write("GET /v1/ws HTTP/1.1\r\n");
      const extraCut = await extra.waitForEnd();
      const othersOpenWhenExtraCut = stalled.every((connection) => !connection.ended);
      const othersCut = await Promise.all(stalled.map((connection) => connection.waitForEnd()));
      await untilFreshConnectionsServed(ctx);
      return { extraCut, othersOpenWhenExtraCut, othersCut, servedAgainAfterwards: true };
    },
  ),
  row(
    `more than maxConnections (${LIMITS.maxConnections}) WebSockets: 503 with Retry-After`,
    {
      refused: {
        status: 503,
        body: JSON.stringify(
          errorBody(
            "unavailable",
            `this edge is at its limit of ${LIMITS.maxConnections} connections; try another one`,
          ),
        ),
      },
      acceptedAgainAfterClose: true,
    },
    async (ctx) => {
      // Only the steady subscriber and the shared connection are open between rows.
      const onlyTwoOpen = async () => (await openConnections(ctx)) === 2;
      await waitFor("only the steady and the shared connection to be open", onlyTwoOpen, {
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      // One at a time: opened all at once, they would also meet the bound on pending upgrades.
      const clients: TestClient[] = [];
      ctx.scope.teardown(() => clients.forEach((client) => client.close()));
      while (clients.length < LIMITS.maxConnections - 2)
        clients.push(await TestClient.ready(ctx.edge.wsUrl, { token: ctx.token }));
      const refused = await TestClient.connect(ctx.edge.wsUrl, { token: ctx.token }).then(
        (client) => (client.close(), "accepted"),
        (error: unknown) =>
          error instanceof UpgradeRefused ? { status: error.status, body: error.body } : String(error),
      );
      clients.forEach((client) => client.close());
      await waitFor("the closed clients to be gone", onlyTwoOpen, { timeoutMs: 30_000, intervalMs: 100 });
      const again = await TestClient.ready(ctx.edge.wsUrl, { token: ctx.token });
      again.close();
      return { refused, acceptedAgainAfterClose: true };
    },
  ),
];
