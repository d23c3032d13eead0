// Rotating a Secret the edges use rolls them: the operator watches Secrets referenced by
// NotificationServices and hashes their content into the pod template; nothing else is written.
import test from "ava";
import { startNats } from "../harness/nats-server.js";
import type { KubeObject, WatchEvent } from "../fake-apiserver/store.js";
import {
  applyResource,
  createSecret,
  DEPLOYMENTS,
  markRollout,
  startCluster,
  streamInfo,
  waitFor,
  waitForCondition,
  type Cluster,
} from "./harness.js";

const SECRETS = "/api/v1/namespaces/default/secrets";
type Deployment = KubeObject & { spec: { template: { metadata: { annotations: Record<string, string> } } } };

const annotations = (d: KubeObject | undefined) => (d as Deployment).spec.template.metadata.annotations;

async function setSecretData(cluster: Cluster, name: string, data: Record<string, string>): Promise<void> {
  const secret = (await cluster.get(`${SECRETS}/${name}`))!;
  const encoded = Object.fromEntries(
    Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString("base64")]),
  );
  await cluster.put(`${SECRETS}/${name}`, { ...secret, data: encoded });
}

async function readyAgain(cluster: Cluster): Promise<void> {
  await markRollout(cluster, "news-edge");
  await waitForCondition(cluster, "news", "Ready", { status: "True" });
}

test("rotating a referenced Secret rolls the edges and writes nothing else; other Secrets and keys change nothing", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  const operator = await cluster.startOperator("op-1");
  await createSecret(cluster, "api-keys", { keys: "key-one" });
  await createSecret(cluster, "jwt", { secret: "s".repeat(40) });
  await createSecret(cluster, "unrelated", { x: "1" });
  await applyResource(cluster, "news", {
    nats: { url: nats.url },
    stream: { replicas: 1 },
    edge: { replicas: 2 },
    auth: { apiKeysSecret: { name: "api-keys", key: "keys" }, jwtSecret: { name: "jwt", key: "secret" } },
  });
  const created = (await waitFor("the Deployment", () =>
    cluster.get(`${DEPLOYMENTS}/news-edge`),
  )) as Deployment;
  const before = { ...annotations(created) };
  t.regex(before["herald.dev/secrets-hash"]!, /^[0-9a-f]{16}$/);
  await readyAgain(cluster);
  const stream = await streamInfo(nats.url, "herald_default_news");

  // Every write to the API server from here on, by resource and name.
  const writes: string[] = [];
  const unsubscribe = cluster.api.store.subscribe((event: WatchEvent) =>
    writes.push(`${event.type} ${event.resource}/${event.object.metadata.name}`),
  );
  t.teardown(unsubscribe);

  await setSecretData(cluster, "api-keys", { keys: "key-two" });
  const rolled = (await waitFor("the pod template to change", async () => {
    const d = await cluster.get(`${DEPLOYMENTS}/news-edge`);
    return annotations(d)["herald.dev/secrets-hash"] !== before["herald.dev/secrets-hash"] && d;
  })) as Deployment;
  t.is(
    annotations(rolled)["herald.dev/config-hash"],
    before["herald.dev/config-hash"],
    "the configuration did not change",
  );
  t.is(rolled.metadata.generation, created.metadata.generation! + 1, "one rollout");
  const withoutHash = (d: Deployment) => ({
    ...d.spec,
    template: {
      ...d.spec.template,
      metadata: {
        ...d.spec.template.metadata,
        annotations: { ...annotations(d), "herald.dev/secrets-hash": "" },
      },
    },
  });
  t.deepEqual(withoutHash(rolled), withoutHash(created), "the hash is the only change to the Deployment");
  // During the rollout.
  const { condition: rolling } = await waitForCondition(cluster, "news", "Ready", { status: "False" });
  t.is(rolling.reason, "RollingOut");
  await readyAgain(cluster);

  // The same Secret with an extra, unreferenced key, and another Secret: reconciled, nothing rolls.
  const reconciles = await operator.metric("controller_runtime_reconcile_total");
  await setSecretData(cluster, "unrelated", { x: "2" });
  await setSecretData(cluster, "api-keys", { keys: "key-two", unused: "whatever" });
  await waitFor(
    "the reconcile the Secret change triggers",
    async () => (await operator.metric("controller_runtime_reconcile_total")) > reconciles,
  );
  // One more reconcile, queued after the Secret events had long arrived, before looking.
  const settled = await operator.metric("controller_runtime_reconcile_total");
  await cluster.kubectl("annotate", "notificationservice", "news", "touched=yes");
  await waitFor(
    "a later reconcile",
    async () => (await operator.metric("controller_runtime_reconcile_total")) > settled,
  );
  t.is(
    annotations(await cluster.get(`${DEPLOYMENTS}/news-edge`))["herald.dev/secrets-hash"],
    annotations(rolled)["herald.dev/secrets-hash"],
  );

  // Everything the operator wrote besides Events and its Lease renewals: the Deployment and the
  // resource's status. No ConfigMap, Service or PDB was rewritten. (The test wrote the Secrets and
  // the Deployment's status.)
  const written = new Set(
    writes.filter(
      (w) => !w.includes("/events/") && !w.includes("/leases/") && !w.startsWith("MODIFIED /secrets/"),
    ),
  );
  t.deepEqual([...written].sort(), [
    "MODIFIED apps/deployments/news-edge",
    "MODIFIED herald.dev/notificationservices/news",
  ]);
  t.deepEqual(
    await streamInfo(nats.url, "herald_default_news").then((s) => s?.config),
    stream?.config,
    "the stream is untouched",
  );
  t.true(operator.output().includes("Ready=False (RollingOut"), operator.output());
});
