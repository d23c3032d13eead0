// Guards of the HTTP/WebSocket port against slow or oversized handshakes: connections that never
// finish their request are bounded in number (HERALD_MAX_PENDING_UPGRADES) and in time
// (HERALD_UPGRADE_TIMEOUT_MS); oversized headers are refused with 431.
import test from "ava";
import { connect, type Socket } from "node:net";
import { startTestEdge } from "../harness/test-edge.js";
import { TestClient, UpgradeRefused } from "../harness/ws-client.js";

/** A TCP connection that sends the start of an upgrade request and then nothing more. */
function stalledHandshake(port: number): Promise<Socket & { closedByPeer: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n");
      resolve(Object.assign(socket, { closedByPeer: new Promise<void>((done) => socket.once("close", () => done())) }));
    });
    socket.on("error", () => undefined);
    socket.once("error", reject);
  });
}

test("a handshake that does not finish within HERALD_UPGRADE_TIMEOUT_MS is cut off", async (t) => {
  const edge = await startTestEdge(t, { HERALD_UPGRADE_TIMEOUT_MS: "300" });
  const socket = await stalledHandshake(edge.port);
  t.teardown(() => socket.destroy());
  await socket.closedByPeer;
  t.pass();
  // Well-behaved clients are unaffected.
  const client = await TestClient.ready(edge.wsUrl);
  client.close();
});

test("beyond HERALD_MAX_PENDING_UPGRADES unfinished handshakes, new connections are dropped until they go", async (t) => {
  const edge = await startTestEdge(t, { HERALD_MAX_PENDING_UPGRADES: "2", HERALD_UPGRADE_TIMEOUT_MS: "60000" });
  const stalled = [await stalledHandshake(edge.port), await stalledHandshake(edge.port)];
  t.teardown(() => stalled.forEach((s) => s.destroy()));
  await t.throwsAsync(TestClient.connect(edge.wsUrl), { message: /socket hang up|ECONNRESET/ });
  stalled.forEach((s) => s.destroy());
  // Once the stalled ones are gone, connections are accepted again.
  const deadline = Date.now() + 30_000;
  let client: TestClient | undefined;
  while (!client && Date.now() < deadline) client = await TestClient.ready(edge.wsUrl).catch(() => undefined);
  t.truthy(client);
  client?.close();
});

test("an upgrade with headers over 16 KiB is refused with 431", async (t) => {
  const edge = await startTestEdge(t);
  const error = await t.throwsAsync(TestClient.connect(edge.wsUrl, { headers: { "x-padding": "p".repeat(20_000) } }));
  t.true(error instanceof UpgradeRefused && error.status === 431, String(error));
});
