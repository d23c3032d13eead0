// Mid-stream resync: a subscribed client, a real nats-server and a spawned JetStream edge. The
// stream is deleted and re-created (its history, hence its epoch, is new): the edge restarts the
// subscription, the client reports a `resync` with the new epoch, and delivery goes on in order
// from the new stream, with `position` in the new epoch.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import test from "ava";
import { loadConfig } from "../shared/config.js";
import { desiredStreamConfig } from "../shared/stream-config.js";
import { epochOf } from "../shared/stream-info.js";
import { spawnEdge } from "../e2e/harness/edge-process.js";
import { startNats } from "../e2e/harness/nats-server.js";
import { HeraldClient, type ResyncInfo } from "./node.js";
import { publishUntilStored, range, storedMessages } from "../e2e/harness/http.js";
import { TEST_API_KEY, TEST_EDGE_ENV } from "../e2e/harness/tokens.js";
import { waitFor } from "../e2e/harness/wait.js";

const TOPIC = "recreated.feed";

test("a re-created stream gives a resync with the new epoch, then every new message once, in order", async (t) => {
  const nats = await startNats(t, { jetstream: true });
  const env = { ...TEST_EDGE_ENV, HERALD_NATS_URL: nats.url, HERALD_ALLOW_ANONYMOUS: "true" };
  const edge = await spawnEdge(t, env);
  const client = new HeraldClient({ url: edge.url, backoff: { initialMs: 100, maxMs: 1000 } });
  t.teardown(() => client.close());
  const values: number[] = [];
  const resyncs: ResyncInfo[] = [];
  const sub = client.subscribe<{ n: number }>(TOPIC, (message) => values.push(message.data.n));
  sub.on("resync", (info) => resyncs.push(info));
  await waitFor("subscription confirmed", () => sub.position !== undefined);

  const publish = (n: number) =>
    publishUntilStored(() => edge.url, { topic: TOPIC, data: { n }, msgId: `${TOPIC}-${n}` }, TEST_API_KEY);
  for (const n of range(5)) await publish(n);
  await waitFor("5 messages", () => values.length === 5);
  const before = sub.position!;

  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete("HERALD");
  // Re-created as the edge would create it (adding an identical config is accepted if the edge did it first).
  await jsm.streams.add(desiredStreamConfig(loadConfig(env)));
  const newEpoch = epochOf(await jsm.streams.info("HERALD"));
  t.not(newEpoch, before.epoch);

  for (const n of range(5, 6)) await publish(n);
  await waitFor(
    "the resync and the new stream's messages",
    () => resyncs.length === 1 && values.length >= 10,
    90_000,
  );
  t.deepEqual(values, range(10));
  t.deepEqual(resyncs[0]!.lost, before);
  t.is(resyncs[0]!.position.epoch, newEpoch);
  const stored = await storedMessages(edge.url, TOPIC, TEST_API_KEY);
  t.deepEqual(
    stored.map((m) => (m.data as { n: number }).n),
    range(5, 6),
    "the new stream holds only the new messages",
  );
  t.deepEqual(sub.position, { epoch: newEpoch, seq: stored.at(-1)!.seq });
  t.is(resyncs.length, 1);
});
