// The optional monitoring kinds against the fake API server and a real nats-server: with the
// Prometheus Operator's and KEDA's CRDs served, a NotificationService with spec.monitoring.podMonitor
// and autoscaling provider keda gets its PodMonitor and ScaledObject (and no HPA of the operator's),
// the operator leaves the Deployment's replicas to KEDA, and the Autoscaling condition reads the HPA
// KEDA made; without those CRDs, Warning Events say what to install.
import test from "ava";
import type { KubeObject } from "../fake-apiserver/store.js";
import { startNats } from "../harness/nats-server.js";
import {
  applyResource,
  DEPLOYMENTS,
  events,
  markRollout,
  startCluster,
  waitFor,
  waitForCondition,
} from "./harness.js";

const CRDS = "apiextensions.k8s.io/customresourcedefinitions";
const SCALED_OBJECTS = "/apis/keda.sh/v1alpha1/namespaces/default/scaledobjects";
const POD_MONITORS = "/apis/monitoring.coreos.com/v1/namespaces/default/podmonitors";
const HPAS = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";

/** A CRD as the Prometheus Operator's and KEDA's charts install it (schema left open here). */
function crd(group: string, version: string, kind: string, plural: string): KubeObject {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: "Namespaced",
      names: { plural, kind, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
          subresources: { status: {} },
        },
      ],
    },
  } as KubeObject;
}

const spec = (natsUrl: string) => ({
  nats: { url: natsUrl },
  stream: { replicas: 1 },
  edge: {
    autoscaling: {
      enabled: true,
      provider: "keda",
      min: 2,
      max: 10,
      targetConnectionsPerPod: 1000,
      keda: { prometheusAddress: "http://prometheus.monitoring.svc:9090" },
    },
  },
  monitoring: { podMonitor: { enabled: true, labels: { release: "kube-prometheus-stack" } } },
});

test("with the CRDs served: the PodMonitor and the ScaledObject, replicas left to KEDA, the condition from KEDA's HPA", async (t) => {
  t.timeout(120_000);
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  cluster.api.store.create(CRDS, crd("monitoring.coreos.com", "v1", "PodMonitor", "podmonitors"), false);
  cluster.api.store.create(CRDS, crd("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects"), false);
  const operator = await cluster.startOperator("op-keda", { HERALD_OPERATOR_RESYNC_SECONDS: "1" });
  await waitFor("the operator to lead", () => operator.output().includes("became leader"));
  await applyResource(cluster, "k", spec(nats.url));

  const scaled = (await waitFor("the ScaledObject", () =>
    cluster.get(`${SCALED_OBJECTS}/k-edge`),
  )) as KubeObject & {
    spec: { scaleTargetRef: { kind: string; name: string }; triggers: { type: string }[] };
  };
  t.deepEqual(scaled.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "k-edge" });
  t.deepEqual(
    scaled.spec.triggers.map((trigger) => trigger.type),
    ["prometheus", "cpu"],
  );
  const podMonitor = (await waitFor("the PodMonitor", () =>
    cluster.get(`${POD_MONITORS}/k-edge`),
  )) as KubeObject & {
    spec: { podMetricsEndpoints: { port: string }[] };
  };
  t.is(podMonitor.metadata.labels?.release, "kube-prometheus-stack");
  t.is(podMonitor.spec.podMetricsEndpoints[0]!.port, "metrics");
  t.is(await cluster.get(`${HPAS}/k-edge`), undefined, "no HPA of the operator's beside KEDA's");

  // KEDA's HPA scales the Deployment to 5; the operator's reconciles leave that alone.
  await waitFor("the edge Deployment", () => cluster.get(`${DEPLOYMENTS}/k-edge`));
  const store = cluster.api.store;
  const deployment = store.get("apps/deployments", "default", "k-edge") as KubeObject & {
    spec: Record<string, unknown>;
  };
  store.update("apps/deployments", { ...deployment, spec: { ...deployment.spec, replicas: 5 } }, true);
  await markRollout(cluster, "k-edge");
  store.create(
    "autoscaling/horizontalpodautoscalers",
    {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "keda-hpa-k-edge", namespace: "default" },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "k-edge" },
        minReplicas: 2,
        maxReplicas: 10,
        metrics: [
          {
            type: "External",
            external: {
              metric: { name: "s0-prometheus" },
              target: { type: "AverageValue", averageValue: "1k" },
            },
          },
          {
            type: "Resource",
            resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
          },
        ],
      },
      status: {
        currentReplicas: 5,
        desiredReplicas: 5,
        currentMetrics: [
          {
            type: "External",
            external: { metric: { name: "s0-prometheus" }, current: { averageValue: "900" } },
          },
          { type: "Resource", resource: { name: "cpu", current: { averageUtilization: 40 } } },
        ],
        conditions: [
          { type: "AbleToScale", status: "True", reason: "ReadyForNewScale" },
          { type: "ScalingActive", status: "True", reason: "ValidMetricFound" },
        ],
      },
    } as unknown as KubeObject,
    true,
  );
  const { condition } = await waitForCondition(cluster, "k", "Autoscaling", { status: "True" });
  t.is(condition.reason, "ScalingActive");
  t.regex(condition.message, /desired 5, current 5 replicas/);
  // Reconciles went on meanwhile (every second); the replicas are still KEDA's.
  const reconciles = async () => await operator.metric("controller_runtime_reconcile_total");
  const seen = await reconciles();
  await waitFor("two more reconciles", async () => (await reconciles()) >= seen + 2);
  const now = store.get("apps/deployments", "default", "k-edge") as KubeObject & {
    spec: { replicas: number };
  };
  t.is(now.spec.replicas, 5, "the operator does not fight KEDA over replicas");
});

test("without the CRDs: Warning Events name what to install, and no HPA of the operator's takes KEDA's place", async (t) => {
  t.timeout(120_000);
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  const operator = await cluster.startOperator("op-nocrd", { HERALD_OPERATOR_RESYNC_SECONDS: "1" });
  await waitFor("the operator to lead", () => operator.output().includes("became leader"));
  await applyResource(cluster, "k", spec(nats.url));
  const recorded = await waitFor("both Warning Events", async () => {
    const reasons = (await events(cluster)).filter((e) => e.type === "Warning").map((e) => e.reason);
    return reasons.includes("KedaMissing") && reasons.includes("PrometheusOperatorMissing") && reasons;
  });
  t.true(recorded.includes("KedaMissing"));
  const messages = (await events(cluster)).map((e) => e.message).join("\n");
  t.regex(messages, /install KEDA/);
  t.regex(messages, /install the Prometheus Operator's CRDs/);
  await waitFor("the edge Deployment", () => cluster.get(`${DEPLOYMENTS}/k-edge`));
  t.is(await cluster.get(`${HPAS}/k-edge`), undefined, "no HPA: provider keda was asked for");
  const { condition } = await waitForCondition(cluster, "k", "Autoscaling", { status: "Unknown" });
  t.is(condition.reason, "HPAPending");
});
