// Two NotificationServices naming the same stream on the same NATS never share it: the stream's
// description marks its owner (nats-server 2.9 has no stream metadata), the second resource is
// refused with StreamConflict, and its deletion never deletes the other's stream.
import test from "ava";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNats } from "../harness/nats-server.js";
import { desiredStreamConfig } from "../../shared/stream-config.js";
import { edgeConfig } from "../../operator/render.js";
import { parseSpec, type NotificationService } from "../../operator/spec.js";
import {
  applyResource,
  condition,
  DEPLOYMENTS,
  events,
  NS_PATH,
  startCluster,
  streamInfo,
  waitFor,
  waitForCondition,
} from "./harness.js";

test("a second NotificationService on the same stream is refused (StreamConflict) and never deletes it", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  await cluster.startOperator("op-1");
  const shared = { nats: { url: nats.url }, stream: { name: "shared", replicas: 1 } };

  await applyResource(cluster, "first", shared);
  const { resource: first } = await waitForCondition(cluster, "first", "StreamReady", { status: "True" });
  const stream = (await streamInfo(nats.url, "shared"))!;
  t.is(stream.config.description, `herald: default/first uid ${first.metadata.uid}`);

  await applyResource(cluster, "second", {
    ...shared,
    stream: { ...shared.stream, maxMsgsPerTopic: 7, deletePolicy: "Delete" },
  });
  const { resource: second } = await waitForCondition(cluster, "second", "StreamReady", {
    reason: "StreamConflict",
  });
  const message = `stream shared belongs to NotificationService default/first (uid ${first.metadata.uid}); choose another spec.stream.name`;
  t.like(condition(second, "StreamReady"), { status: "False", message });
  t.like(condition(second, "Ready"), { status: "False", reason: "StreamConflict", message });
  t.like(condition(second, "EdgeAvailable"), {
    status: "False",
    reason: "StreamConflict",
    message: "edges are neither deployed nor updated while stream shared belongs to another owner",
  });
  t.true(
    (await events(cluster)).some(
      (e) =>
        e.type === "Warning" &&
        e.reason === "StreamConflict" &&
        e.involvedObject.name === "second" &&
        e.message === message,
    ),
  );
  t.is(
    await cluster.get(`${DEPLOYMENTS}/second-edge`),
    undefined,
    "no edges that would read and write the other resource's messages",
  );
  t.is(await cluster.get("/api/v1/namespaces/default/configmaps/second-edge"), undefined);
  const after = (await streamInfo(nats.url, "shared"))!;
  t.deepEqual(
    after.config,
    stream.config,
    "nothing of the second spec was applied (max_msgs_per_subject stays 1000)",
  );
  t.is(after.created, stream.created);
  t.regex(await cluster.kubectl("get", "notificationservice", "second"), /second\s+False/);

  // Deleting the refused resource under deletePolicy Delete keeps the other's stream.
  await cluster.kubectl("delete", "notificationservice", "second", "--timeout=60s");
  await waitFor("second to be gone", async () => (await cluster.get(`${NS_PATH}/second`)) === undefined);
  t.deepEqual((await streamInfo(nats.url, "shared"))?.config, stream.config);
  const retained = (await events(cluster)).find(
    (e) => e.reason === "StreamRetained" && e.involvedObject.name === "second",
  );
  t.is(retained?.type, "Warning");
  t.is(retained?.message, `kept stream shared despite deletePolicy Delete: ${message}`);

  // The owner deleted (Retain) and re-created under the same name takes its stream back: same history.
  const epoch = (first.status as { epoch: string }).epoch;
  await cluster.kubectl("delete", "notificationservice", "first", "--timeout=60s");
  await waitFor("first to be gone", async () => (await cluster.get(`${NS_PATH}/first`)) === undefined);
  await applyResource(cluster, "first", shared);
  const recreated = await waitFor("the re-created owner's marker", async () => {
    const r = await cluster.get(`${NS_PATH}/first`);
    return r && r.metadata.uid !== first.metadata.uid && condition(r, "StreamReady")?.status === "True" && r;
  });
  t.is((recreated.status as { epoch: string }).epoch, epoch, "the same stream, not a new one");
  t.is(
    (await streamInfo(nats.url, "shared"))?.config.description,
    `herald: default/first uid ${recreated.metadata.uid}`,
  );
});

test("a stream without an owner (created by an edge) is claimed by the resource that names it, direct get turned on", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  const spec = { nats: { url: nats.url }, stream: { name: "edge-made", replicas: 1 } };
  // What an edge started before the operator creates: Herald's config, no description.
  const resource = { metadata: { name: "news", namespace: "default" } } as NotificationService;
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  // Without direct get, which the edges need and refuse to run without: the operator turns it on.
  const created = await (
    await jetstreamManager(nc)
  ).streams.add({ ...desiredStreamConfig(edgeConfig(resource, parseSpec(spec))), allow_direct: false });
  t.is(created.config.description, undefined);

  await cluster.startOperator("op-1");
  await applyResource(cluster, "news", spec);
  const { resource: news } = await waitForCondition(cluster, "news", "StreamReady", { status: "True" });
  const claimed = (await streamInfo(nats.url, "edge-made"))!;
  t.is(claimed.config.description, `herald: default/news uid ${news.metadata.uid}`);
  t.is(claimed.created, created.created, "claimed, not re-created");
  t.true(claimed.config.allow_direct, "direct get is turned on in place");
});
