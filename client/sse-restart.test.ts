// The SDK over Server-Sent Events across an edge SIGKILL and an edge drain: real edge processes on
// one port over a real nats-server with JetStream (the log survives the edge), a publisher that keeps
// publishing (retrying with msgIds) while the edge is gone, and a subscriber on two topics that must
// end with every message once, in order, on the SSE transport throughout.
import test, { type ExecutionContext } from "ava";
import { restartableEdge, type EdgeProcess } from "../e2e/harness/edge-process.js";
import { publishAcross, range } from "../e2e/harness/http.js";
import { TEST_API_KEY } from "../e2e/harness/tokens.js";
import { sleep, waitFor } from "../e2e/harness/wait.js";
import { HeraldClient, type TransportKind } from "./node.js";

async function across(
  t: ExecutionContext,
  prefix: string,
  drainSeconds: string,
  stop: (edge: EdgeProcess) => void,
) {
  const edges = await restartableEdge(t, {
    HERALD_ALLOW_ANONYMOUS: "true",
    HERALD_DRAIN_SECONDS: drainSeconds,
  });
  const client = new HeraldClient({
    url: edges.edge().url,
    transports: ["sse"],
    backoff: { initialMs: 100, maxMs: 1000 },
  });
  t.teardown(() => client.close());
  const transports = new Set<TransportKind | undefined>();
  client.on("state", (_state, change) => transports.add(change.transport));
  const topics = [`${prefix}.a`, `${prefix}.b`];
  const values = new Map(topics.map((topic) => [topic, [] as number[]]));
  const subs = topics.map((topic) =>
    client.subscribe<{ n: number }>(topic, (message) => values.get(topic)!.push(message.data.n)),
  );
  await Promise.all(subs.map((sub) => sub.ready()));

  const total = 60;
  await publishAcross(
    () => edges.edge().url,
    total,
    (n) => topics[n % 2]!,
    TEST_API_KEY,
    async () => {
      stop(edges.edge());
      await edges.edge().exited;
      await edges.respawn();
    },
  );
  await waitFor(
    `${total} messages`,
    () => [...values.values()].reduce((sum, list) => sum + list.length, 0) >= total,
    90_000,
  );
  // A moment more: a late duplicate would show now.
  await sleep(500);
  t.deepEqual(
    values.get(topics[0]!),
    range(total / 2).map((i) => i * 2),
  );
  t.deepEqual(
    values.get(topics[1]!),
    range(total / 2).map((i) => i * 2 - 1),
  );
  t.deepEqual([...transports].filter(Boolean), ["sse"]);
}

test("over SSE, the edge crashes and restarts mid-stream: every message arrives once, in order", async (t) => {
  await across(t, "sse-restart.kill", "0", (edge) => edge.kill("SIGKILL"));
});

test("over SSE, the edge drains mid-stream: the client follows its reconnect and loses nothing", async (t) => {
  await across(t, "sse-restart.drain", "1", (edge) => edge.kill("SIGTERM"));
});
