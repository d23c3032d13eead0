// The heartbeat pings every connection once per interval, spread over the interval: a burst of
// one ping per connection at the same moment would hold up deliveries on all of them.
import test from "ava";
import { startTestEdge } from "../../e2e/harness/test-edge.js";
import { TestClients } from "../../e2e/harness/ws-client.js";
import { waitFor } from "../../e2e/harness/wait.js";

const HEARTBEAT_MS = 1000;

test("each connection is pinged once per interval, and the connections' pings are spread over it", async (t) => {
  const edge = await startTestEdge(t, { HERALD_HEARTBEAT_MS: String(HEARTBEAT_MS) });
  const clients = new TestClients(t, edge.wsUrl);
  const pings: number[][] = [];
  for (let i = 0; i < 20; i++) {
    const client = await clients.open();
    const times: number[] = [];
    pings.push(times);
    client.ws.on("ping", () => times.push(performance.now()));
  }
  const connected = performance.now();
  await waitFor("three pings on every connection", () => pings.every((times) => times.length >= 3), 10_000);
  // A connection's pings are one interval apart (the ticks of one slice).
  for (const times of pings) {
    const gap = times[2]! - times[1]!;
    t.true(gap > HEARTBEAT_MS * 0.5 && gap < HEARTBEAT_MS * 1.5, `pings ${Math.round(gap)} ms apart`);
  }
  // The pings after the last connection opened, in bursts (pings less than 30 ms apart): pinging
  // every connection on one tick makes bursts of 20; ten slices make bursts of 2 (two ticks that a
  // busy event loop runs back to back make 4).
  const times = pings
    .flat()
    .filter((at) => at > connected)
    .sort((a, b) => a - b);
  const bursts = [1];
  for (let i = 1; i < times.length; i++) {
    if (times[i]! - times[i - 1]! < 30) bursts[bursts.length - 1]!++;
    else bursts.push(1);
  }
  t.true(Math.max(...bursts) <= 10, `bursts of ${bursts.join(", ")} pings`);
  // ws answers every ping: nobody was taken for a silent peer.
  t.true(
    clients.all.every((client) => client.ws.readyState === client.ws.OPEN),
    "every connection is still open",
  );
});
