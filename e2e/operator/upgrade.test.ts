// An upgrade from the operator before server-side apply: it created and replaced the edge
// Deployment through @kubernetes/client-node without a field manager (the API server named it
// after the user agent, node-fetch, operation Update). The new operator takes those fields over
// for its own apply, so what it no longer renders (the old fixed uid, gid and fsGroup, which
// OpenShift's restricted SCC refuses) is removed instead of staying owned by the old entry.
import { KubeConfig } from "@kubernetes/client-node";
import test from "ava";
import { startNats } from "../harness/nats-server.js";
import type { KubeObject } from "../fake-apiserver/store.js";
import { KubeClient } from "../../operator/kube.js";
import { renderDeployment } from "../../operator/render.js";
import { parseSpec, type NotificationService } from "../../operator/spec.js";
import { applyResource, DEPLOYMENTS, NS_PATH, startCluster, waitFor } from "./harness.js";

type ManagedFields = { manager: string; operation: string }[];
type Deployment = KubeObject & {
  spec: {
    template: {
      spec: {
        securityContext: Record<string, unknown>;
        tolerations?: unknown[];
        containers: { image: string }[];
      };
    };
  };
};

test("an edge Deployment written by the previous operator is taken over: fields it no longer renders go", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  const spec = { nats: { url: nats.url }, stream: { replicas: 1 } };
  await applyResource(cluster, "old", spec);
  const resource = (await cluster.get(`${NS_PATH}/old`)) as unknown as NotificationService;

  // What the previous operator wrote: today's Deployment but with its fixed uid, gid and fsGroup
  // and the image its CRD defaulted, created the way it created it (client-node, no field manager).
  const legacy = renderDeployment(resource, parseSpec(resource.spec)) as unknown as Deployment;
  const pod = legacy.spec.template.spec;
  pod.securityContext = {
    runAsNonRoot: true,
    runAsUser: 1000,
    runAsGroup: 1000,
    fsGroup: 1000,
    seccompProfile: { type: "RuntimeDefault" },
  };
  pod.containers[0]!.image = "ghcr.io/herald-dev/herald-edge:0.1.0";
  const config = new KubeConfig();
  config.loadFromFile(cluster.kubeconfig);
  await new KubeClient(config).create(legacy as unknown as Parameters<KubeClient["create"]>[0]);
  const before = (await cluster.get(`${DEPLOYMENTS}/old-edge`)) as Deployment;
  t.deepEqual(
    (before.metadata.managedFields as ManagedFields).map((m) => `${m.manager}/${m.operation}`),
    ["node-fetch/Update"],
    "the old operator's writes are owned by the user agent's name",
  );

  const operator = await cluster.startOperator("op-new", {
    HERALD_OPERATOR_EDGE_IMAGE: "ghcr.io/herald-dev/herald-edge:0.2.0",
  });
  const after = (await waitFor(
    () => `the Deployment taken over (operator: ${operator.output()})`,
    async () => {
      const d = (await cluster.get(`${DEPLOYMENTS}/old-edge`)) as Deployment;
      return d.spec.template.spec.containers[0]!.image === "ghcr.io/herald-dev/herald-edge:0.2.0" && d;
    },
  )) as Deployment;
  const securityContext = after.spec.template.spec.securityContext;
  t.false("runAsUser" in securityContext, "no fixed uid after the upgrade");
  t.false("runAsGroup" in securityContext);
  t.false("fsGroup" in securityContext);
  t.like(securityContext, { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
  const managers = (after.metadata.managedFields as ManagedFields).map((m) => `${m.manager}/${m.operation}`);
  t.deepEqual(managers, ["herald-operator/Apply"], "the old entry is gone, its fields moved to the apply");

  // From then on, a field dropped from the spec is removed too.
  const tolerant = {
    ...spec,
    edge: { podTemplate: { tolerations: [{ key: "spot", operator: "Exists", effect: "NoSchedule" }] } },
  };
  await applyResource(cluster, "old", tolerant);
  await waitFor(
    "the toleration",
    async () => ((await cluster.get(`${DEPLOYMENTS}/old-edge`)) as Deployment).spec.template.spec.tolerations,
  );
  await applyResource(cluster, "old", spec);
  await waitFor(
    "the toleration removed",
    async () =>
      !("tolerations" in ((await cluster.get(`${DEPLOYMENTS}/old-edge`)) as Deployment).spec.template.spec),
  );
  t.pass();
});
