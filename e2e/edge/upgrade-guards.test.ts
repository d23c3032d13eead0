// Guards of the HTTP/WebSocket port against slow or oversized handshakes: connections that do not
// finish their request are bounded in number (HERALD_MAX_PENDING_UPGRADES slow ones, and
// HERALD_MAX_PENDING_PER_ADDRESS per source address; none is refused on arrival) and in time
// (HERALD_UPGRADE_TIMEOUT_MS); oversized headers are refused with 431.
import test from "ava";
import { connect, type Socket } from "node:net";
import { startTestEdge } from "../harness/test-edge.js";
import { signToken, TEST_JWT_SECRET } from "../harness/tokens.js";
import { TestClient, UpgradeRefused } from "../harness/ws-client.js";
import { waitFor } from "../harness/wait.js";

/** A TCP connection that sends the start of an upgrade request and then nothing more. */
function stalledHandshake(port: number): Promise<Socket & { closedByPeer: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n");
      resolve(
        Object.assign(socket, {
          closedByPeer: new Promise<void>((done) => socket.once("close", () => done())),
        }),
      );
    });
    socket.on("error", () => undefined);
    socket.once("error", reject);
  });
}

test("a handshake that does not finish within HERALD_UPGRADE_TIMEOUT_MS is cut off", async (t) => {
  const edge = await startTestEdge(t, { HERALD_UPGRADE_TIMEOUT_MS: "1000" });
  const socket = await stalledHandshake(edge.port);
  t.teardown(() => socket.destroy());
  await socket.closedByPeer;
  t.pass();
  // Well-behaved clients are unaffected.
  const client = await TestClient.ready(edge.wsUrl);
  client.close();
});

test("slow handshakes beyond HERALD_MAX_PENDING_UPGRADES are cut off; honest clients still connect", async (t) => {
  const edge = await startTestEdge(t, {
    HERALD_MAX_PENDING_UPGRADES: "2",
    HERALD_UPGRADE_TIMEOUT_MS: "60000",
  });
  const held = [await stalledHandshake(edge.port), await stalledHandshake(edge.port)];
  const extra = await stalledHandshake(edge.port);
  t.teardown(() => [...held, extra].forEach((s) => s.destroy()));
  // The third slow one exceeds the bound once its grace is over; the first two are kept.
  await extra.closedByPeer;
  t.false(
    held.some((s) => s.closed),
    "the slow handshakes within the bound are kept",
  );
  const client = await TestClient.ready(edge.wsUrl);
  client.close();
});

test("a burst of honest handshakes far above the bound is served in full", async (t) => {
  const edge = await startTestEdge(t, { HERALD_MAX_PENDING_UPGRADES: "5" });
  const clients = await Promise.all(Array.from({ length: 60 }, () => TestClient.ready(edge.wsUrl)));
  t.is(clients.length, 60);
  clients.forEach((c) => c.close());
});

test("a flood of connections that send nothing: honest clients still get in, and after the grace only the bound's worth remain", async (t) => {
  const edge = await startTestEdge(t, {
    HERALD_MAX_PENDING_UPGRADES: "2",
    HERALD_UPGRADE_TIMEOUT_MS: "60000",
  });
  const flood = await Promise.all(Array.from({ length: 8 }, () => stalledHandshake(edge.port)));
  t.teardown(() => flood.forEach((s) => s.destroy()));
  // Nothing is refused on arrival: an honest handshake in the middle of the flood is served.
  (await TestClient.ready(edge.wsUrl)).close();
  await waitFor("six slow handshakes to be cut", () => flood.filter((s) => s.closed).length >= 6, {
    timeoutMs: 30_000,
    intervalMs: 50,
  });
  t.is(flood.filter((s) => !s.closed).length, 2);
  const client = await TestClient.ready(edge.wsUrl);
  client.close();
});

test("an upgrade with headers over 32 KiB is refused with 431", async (t) => {
  const edge = await startTestEdge(t);
  const error = await t.throwsAsync(
    TestClient.connect(edge.wsUrl, { headers: { "x-padding": "p".repeat(40_000) } }),
  );
  t.true(error instanceof UpgradeRefused && error.status === 431, String(error));
});

test("a burst of token-bearing upgrades never overshoots HERALD_MAX_CONNECTIONS", async (t) => {
  const edge = await startTestEdge(t, {
    HERALD_MAX_CONNECTIONS: "5",
    HERALD_JWT_SECRET: TEST_JWT_SECRET,
    HERALD_ALLOW_ANONYMOUS: "false",
  });
  const token = await signToken();
  const attempts = await Promise.allSettled(
    Array.from({ length: 12 }, () => TestClient.connect(edge.wsUrl, { token })),
  );
  const accepted = attempts.flatMap((a) => (a.status === "fulfilled" ? [a.value] : []));
  t.teardown(() => accepted.forEach((c) => c.close()));
  const refused = attempts.flatMap((a) => (a.status === "rejected" ? [a.reason as unknown] : []));
  t.is(accepted.length, 5);
  t.true(refused.every((e) => e instanceof UpgradeRefused && e.status === 503));
});
