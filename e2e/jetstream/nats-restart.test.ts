// NATS restarted: the single NATS node (file storage) is restarted mid-stream. Subscribers stay
// connected to their edge; publishes during the outage get 503 and are retried with their msgId.
import test from "ava";
import { startNats } from "../harness/nats-server.js";
import { sleep } from "../harness/wait.js";
import { RetryingPublisher, spawnNatsEdge, startSubscribers, verdict, waitUntil } from "./fault-kit.js";

test("restart of a file-backed NATS node mid-stream: nothing lost, nothing twice, clients stay connected", async (t) => {
  const nats = await startNats(t);
  const edge = await spawnNatsEdge(t, nats.url);
  const topics = Array.from({ length: 10 }, (_, i) => `fault2.topic-${i}`);
  const subscribers = await startSubscribers(t, 40, (i) => ({
    urls: () => [edge.wsUrl],
    topics: [topics[i % 10]!, topics[(i + 3) % 10]!],
  }));

  const publisher = new RetryingPublisher(() => edge.url);
  let sawUnready = false;
  await publisher.run(topics, 20, 60, async () => {
    await nats.stop("SIGTERM");
    // /readyz reports the backend state while NATS is down.
    await waitUntil("/readyz to turn 503", async () => (await fetch(`${edge.url}/readyz`)).status === 503);
    sawUnready = true;
    // Down for longer than the edge holds a publish for a NATS connection to come back (5 s), so the
    // publish in flight is refused with 503 and retried with its msgId, not only delayed.
    await sleep(6_500);
    await nats.restart();
  });
  await waitUntil("/readyz to turn 200", async () => (await fetch(`${edge.url}/readyz`)).status === 200);

  t.deepEqual(await verdict(publisher, subscribers), []);
  t.log(`publishes retried with their msgId: ${publisher.retries}`);
  t.true(sawUnready);
  t.true(publisher.retries > 0, "some publishes were refused while NATS was down");
  t.true(
    subscribers.every((s) => s.connections === 1),
    "clients stayed connected",
  );
});
