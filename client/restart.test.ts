// The SDK across edge restarts and drains: real edge processes on one port over a real
// nats-server with JetStream (the log survives the edge), a publisher that keeps publishing
// (retrying with msgIds) while the edge is gone, and a subscriber that must end with every
// message once, in order.
import test, { type ExecutionContext } from "ava";
import { restartableEdge, type EdgeProcess } from "../e2e/harness/edge-process.js";
import { startWsProxy, type WsProxy } from "../e2e/harness/ws-proxy.js";
import { HeraldClient, type ClientState } from "./node.js";
import { publishAcross, range } from "../e2e/harness/http.js";
import { TEST_API_KEY } from "../e2e/harness/tokens.js";
import { waitFor } from "../e2e/harness/wait.js";

interface Stream {
  readonly values: number[];
  readonly states: ClientState[];
  readonly proxy: WsProxy;
  edge(): EdgeProcess;
  /** Publishes 1..total (each stored once), calling `midway` once a third is stored. */
  publishAll(total: number, midway: () => Promise<void>): Promise<void>;
  respawn(): Promise<void>;
}

async function stream(t: ExecutionContext, topic: string, extraEnv: Record<string, string>): Promise<Stream> {
  const edges = await restartableEdge(t, { HERALD_ALLOW_ANONYMOUS: "true", ...extraEnv });
  const proxy = await startWsProxy(t, { port: edges.port });
  const client = new HeraldClient({ url: proxy.wsUrl, backoff: { initialMs: 100, maxMs: 1000 } });
  t.teardown(() => client.close());
  const states: ClientState[] = [client.state];
  client.on("state", (state) => states.push(state));
  const values: number[] = [];
  const sub = client.subscribe<{ n: number }>(topic, (message) => values.push(message.data.n));
  await waitFor("subscription confirmed", () => sub.position !== undefined);
  return {
    values,
    states,
    proxy,
    edge: edges.edge,
    respawn: async () => {
      await edges.respawn();
    },
    publishAll: (total, midway) =>
      publishAcross(
        () => edges.edge().url,
        total,
        () => topic,
        TEST_API_KEY,
        midway,
      ),
  };
}

test("the edge crashes and restarts mid-stream: every message arrives once, in order", async (t) => {
  const s = await stream(t, "restart.crash", { HERALD_DRAIN_SECONDS: "0" });
  const total = 90;
  await s.publishAll(total, async () => {
    s.edge().kill("SIGKILL");
    await s.edge().exited;
    await s.respawn();
  });
  await waitFor(`${total} messages`, () => s.values.length >= total, 90_000);
  t.deepEqual(s.values, range(total));
  t.true(s.proxy.connectionsAccepted() >= 2);
  t.is(s.states.at(-1), "open");
});

test("a draining edge's reconnect frame moves the client to the next edge without loss or duplicates", async (t) => {
  const s = await stream(t, "restart.drain", { HERALD_DRAIN_SECONDS: "1" });
  const total = 90;
  await s.publishAll(total, async () => {
    s.edge().kill("SIGTERM");
    await s.edge().exited;
    await s.respawn();
  });
  await waitFor(`${total} messages`, () => s.values.length >= total, 90_000);
  t.deepEqual(s.values, range(total));
  t.is(s.proxy.edgeFramesSeen("reconnect"), 1, "the draining edge sent a reconnect frame");
  t.true(s.proxy.connectionsAccepted() >= 2);
});
