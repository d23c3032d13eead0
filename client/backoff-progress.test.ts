// The reconnect backoff grows while connections close without progress, and is
// reset only by progress. Before the fix the client reset its backoff on every welcome, so an edge
// (or a proxy) that closed each connection right after its subok made it reconnect several times a
// second, forever.
import test from "ava";
import { startTestEdge } from "../e2e/harness/test-edge.js";
import { startWsProxy } from "../e2e/harness/ws-proxy.js";
import { HeraldClient } from "./node.js";
import { publish } from "../e2e/harness/http.js";
import { TEST_API_KEY, TEST_EDGE_ENV } from "../e2e/harness/tokens.js";
import { sleep, waitFor } from "../e2e/harness/wait.js";

test("connections closed without progress reconnect with a growing backoff; a delivered message resets it", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const proxy = await startWsProxy(t, { port: edge.port });
  const client = new HeraldClient({ url: proxy.wsUrl, backoff: { initialMs: 200, maxMs: 60_000 } });
  t.teardown(() => client.close());
  const values: number[] = [];
  client.subscribe<{ n: number }>("backoff.progress", (message) => values.push(message.data.n));

  // Every connection is closed with 4009 as soon as its subok has passed: only the first one made
  // progress (the subscription was confirmed for the first time), every later one made none.
  let closedAfter = 0;
  let stop = false;
  const closer = (async () => {
    while (!stop) {
      const suboks = proxy.edgeFramesSeen("subok");
      if (suboks > closedAfter && proxy.connectionsOpen() > 0) {
        closedAfter = suboks;
        // Let the frames relayed with the subok reach the client before the close.
        await sleep(20);
        proxy.closeClients(4009, "test: closed without progress");
      }
      await sleep(5);
    }
  })();
  t.teardown(async () => {
    stop = true;
    await closer;
  });

  await waitFor("the first connection", () => proxy.connectionsAccepted() >= 1);
  await sleep(6_000);
  const inSixSeconds = proxy.connectionsAccepted();
  // Ceilings 200, 400, 800, 1600, 3200, 6400 ms...: about five connections in 6 s. With a backoff reset
  // on every welcome (at most 200 ms between attempts) it was more than twenty.
  t.true(inSixSeconds <= 9, `${inSixSeconds} connections in 6 s`);
  t.true(inSixSeconds >= 2, `${inSixSeconds} connections in 6 s`);

  // Progress: a message published meanwhile is delivered by the next connection's resume. After it
  // the delays start small again, so the following connections come quickly (without the reset, each
  // would wait a random part of 12.8 s or more).
  await publish(edge.url, { topic: "backoff.progress", data: { n: 1 } }, TEST_API_KEY);
  await waitFor("the message delivered by a resumed connection", () => values.length === 1, 120_000);
  const afterProgress = proxy.connectionsAccepted();
  await waitFor(
    "three more connections soon after the progress",
    () => (proxy.connectionsAccepted() >= afterProgress + 3 ? true : undefined),
    { timeoutMs: 6_000 },
  );
  t.deepEqual(values, [1]);
});
