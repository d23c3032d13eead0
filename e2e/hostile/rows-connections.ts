// Hostile upgrades and connections: bad Origin, missing or wrong handshake headers, oversized
// headers, upgrades that never complete (one, and more than maxPendingUpgrades at once), requests
// that stall on a kept-alive connection, and more than maxConnections WebSockets.
import { TestClient, UpgradeRefused } from "../harness/ws-client.js";
import { RawConnection, upgradeRequest } from "./raw-socket.js";
import { answerBeforeClose, errorBody, row, upgradeRow, type HostileContext, type Row } from "./row.js";
import { sleep, waitFor } from "../harness/wait.js";

export const LIMITS = {
  maxConnections: 40,
  maxPendingUpgrades: 20,
  maxPendingPerAddress: 5,
  upgradeTimeoutMs: 2500,
} as const;

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

/** Opens `count` raw connections at once (from `localAddress`, any of 127.0.0.0/8; default 127.0.0.1). */
const openMany = (ctx: HostileContext, count: number, localAddress?: string) =>
  Promise.all(
    Array.from({ length: count }, () => RawConnection.open(ctx.scope, ctx.edge.port, localAddress)),
  );

/** A plain GET /healthz on a fresh connection: its status, or "no answer" when cut off. */
async function healthz(ctx: HostileContext, localAddress?: string): Promise<number | "no answer"> {
  const connection = await RawConnection.open(ctx.scope, ctx.edge.port, localAddress);
  connection.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  const text = await connection.waitForEnd();
  return text.startsWith("HTTP/1.1 ") ? Number(text.slice(9, 12)) : "no answer";
}

/** How many of `connections` the edge has closed. */
const ended = (connections: RawConnection[]) => connections.filter((c) => c.ended).length;

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
  // Slowloris: slow connections are bounded per source address (5 here), then in all (20); nothing
  // is refused on arrival, so honest requests and bursts of them are always served.
  row(
    `one address holding silent sockets beyond its share (${LIMITS.maxPendingPerAddress}): the extra ones are cut when they turn slow, and 39 honest requests from another address meanwhile are all served`,
    { honest: new Array(39).fill(200), cutWhenSlow: 7, keptWithinShare: LIMITS.maxPendingPerAddress },
    async (ctx) => {
      const silent = await openMany(ctx, 12, "127.0.0.2");
      const honest = await Promise.all(Array.from({ length: 39 }, () => healthz(ctx)));
      await waitFor("the sockets beyond the share cut", () => ended(silent) >= 7, { timeoutMs: 30_000 });
      const cutWhenSlow = ended(silent);
      const kept = silent.length - cutWhenSlow;
      silent.forEach((c) => c.destroy());
      return { honest, cutWhenSlow, keptWithinShare: kept };
    },
  ),
  row(
    `slow connections from many addresses beyond maxPendingUpgrades (${LIMITS.maxPendingUpgrades}): the address holding the most loses its oldest, not the newcomer`,
    { cut: 1, fromAnAddressHoldingItsFullShare: true, newcomerKept: true },
    async (ctx) => {
      const addresses = ["127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"];
      const held: [string, RawConnection][] = [];
      for (const address of addresses)
        for (const connection of await openMany(ctx, LIMITS.maxPendingPerAddress, address))
          held.push([address, connection]);
      // All 20 are slow (and kept: 5 per address, 20 in all) once their grace of 1 s is over; the
      // newcomer turns slow 1 s later, well before they time out (2.5 s).
      await sleep(1100);
      const newcomer = await RawConnection.open(ctx.scope, ctx.edge.port, "127.0.0.7");
      newcomer.write("GET /v1/ws HTTP/1.1\r\n");
      await waitFor("one slow connection to make room", () => ended(held.map(([, c]) => c)) > 0, {
        timeoutMs: 30_000,
      });
      const cut = held.filter(([, connection]) => connection.ended).map(([address]) => address);
      const newcomerKept = !newcomer.ended;
      [...held.map(([, c]) => c), newcomer].forEach((c) => c.destroy());
      return { cut: cut.length, fromAnAddressHoldingItsFullShare: addresses.includes(cut[0]!), newcomerKept };
    },
  ),
  row(
    `a burst of 300 honest requests at once (beyond 4x maxPendingUpgrades, where connections used to be dropped on arrival) is served in full`,
    { served: 300 },
    async (ctx) => {
      const statuses = await Promise.all(Array.from({ length: 300 }, () => healthz(ctx)));
      return { served: statuses.filter((status) => status === 200).length };
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
