// What the operator renders for monitoring and autoscaling: the edges' internal port is a named
// container port that a PodMonitor scrapes, but no Service port and no Ingress route leads to it;
// the HPA or KEDA ScaledObject and the PodMonitor, valid against their schemas; the Autoscaling
// condition read from an HPA's status.
import test from "ava";
import { validateAny, type Rendered as Manifest } from "../e2e/operator/monitoring-kit.js";
import {
  hpaName,
  METRICS_PORT,
  renderAll,
  renderHTTPRoute,
  renderPodMonitor,
  renderScaledObject,
} from "./render.js";
import { parseSpec } from "./spec.js";
import { resource } from "./test/resource.js";
import { autoscalingCondition } from "./status.js";

interface Rendered {
  kind: string;
  data?: Record<string, string>;
  spec?: {
    ports?: { name: string; port: number; targetPort: string }[];
    template?: { spec: { containers: { ports: { name: string; containerPort: number }[] }[] } };
    rules?: {
      http: {
        paths: {
          path: string;
          pathType: string;
          backend: { service: { port: { name?: string; number?: number } } };
        }[];
      };
    }[];
  };
}

const withIngress = { nats: { url: "nats://nats.nats:4222" }, ingress: { host: "live.example.com" } };

test("the internal port is the edge container's named port metrics, set in the ConfigMap, in no Service and no Ingress", (t) => {
  const ns = resource(withIngress);
  const objects = renderAll(ns, ns.spec) as unknown as Rendered[];
  const byKind = (kind: string) => objects.find((o) => o.kind === kind)!;
  t.is(byKind("ConfigMap").data?.HERALD_METRICS_PORT, String(METRICS_PORT));
  const container = byKind("Deployment").spec!.template!.spec.containers[0]!;
  t.deepEqual(
    container.ports.map((p) => [p.name, p.containerPort]),
    [
      ["http", 8080],
      ["metrics", METRICS_PORT],
    ],
  );
  const service = byKind("Service").spec!;
  t.deepEqual(
    service.ports!.map((p) => p.targetPort),
    ["http"],
    "the Service (possibly a LoadBalancer) routes only the public port",
  );
  for (const rule of byKind("Ingress").spec!.rules!)
    for (const path of rule.http.paths) t.deepEqual(path.backend.service.port, { name: "http" });
});

test("by default the Ingress and the HTTPRoute route only what clients use: /v1, /client.js and /readyz", (t) => {
  const ns = resource(withIngress);
  const ingress = (renderAll(ns, ns.spec) as unknown as Rendered[]).find((o) => o.kind === "Ingress")!;
  t.deepEqual(
    ingress.spec!.rules!.flatMap((rule) => rule.http.paths.map(({ path, pathType }) => [path, pathType])),
    [
      ["/v1", "Prefix"],
      ["/client.js", "Exact"],
      ["/readyz", "Exact"],
    ],
  );
  const routed = resource({
    nats: { url: "nats://nats.nats:4222" },
    gateway: { parentRefs: [{ name: "public" }] },
  });
  const route = renderHTTPRoute(routed, routed.spec) as unknown as {
    spec: { rules: { matches: { path: { type: string; value: string } }[] }[] };
  };
  t.deepEqual(
    route.spec.rules[0]!.matches.map(({ path }) => [path.value, path.type]),
    [
      ["/v1", "PathPrefix"],
      ["/client.js", "Exact"],
      ["/readyz", "Exact"],
    ],
  );
  const prefixed = resource({
    nats: { url: "nats://nats.nats:4222" },
    gateway: { parentRefs: [{ name: "public" }], pathPrefix: "/herald" },
  });
  t.deepEqual((renderHTTPRoute(prefixed, prefixed.spec) as unknown as typeof route).spec.rules[0]!.matches, [
    { path: { type: "PathPrefix", value: "/herald" } },
  ]);
});

const keda = {
  nats: { url: "nats://nats.nats:4222" },
  edge: {
    autoscaling: {
      enabled: true,
      provider: "keda",
      min: 2,
      max: 20,
      targetConnectionsPerPod: 5000,
      keda: { prometheusAddress: "http://prometheus.monitoring.svc:9090" },
    },
  },
  monitoring: { podMonitor: { enabled: true, labels: { release: "kube-prometheus-stack" } } },
};

test("the HPA, ScaledObject and PodMonitor variants are valid against their schemas", async (t) => {
  const hpa = resource({
    nats: { url: "nats://n:4222" },
    edge: { autoscaling: { enabled: true, targetConnectionsPerPod: 100 } },
  });
  const withKeda = resource(keda);
  const variants = [renderAll(hpa, hpa.spec), renderAll(withKeda, withKeda.spec)];
  for (const manifest of variants.flat())
    await t.notThrowsAsync(validateAny(manifest as Manifest), `${manifest.kind} ${manifest.metadata.name}`);
  t.deepEqual(
    variants.map((objects) =>
      objects.map((o) => o.kind).filter((k) => /Autoscaler|ScaledObject|PodMonitor/.test(k)),
    ),
    [["HorizontalPodAutoscaler"], ["ScaledObject", "PodMonitor"]],
    "provider keda renders the ScaledObject instead of the HPA, never both",
  );
});

test("provider keda: a Prometheus trigger on connections per pod and CPU, targeting the Deployment the operator leaves alone", (t) => {
  const ns = resource(keda);
  const scaled = renderScaledObject(ns, ns.spec) as unknown as {
    spec: {
      scaleTargetRef: { kind: string; name: string };
      minReplicaCount: number;
      maxReplicaCount: number;
      triggers: { type: string; metricType: string; metadata: Record<string, string> }[];
    };
  };
  t.deepEqual(scaled.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "news-edge" });
  t.like(scaled.spec, { minReplicaCount: 2, maxReplicaCount: 20 });
  t.deepEqual(scaled.spec.triggers, [
    {
      type: "prometheus",
      metricType: "AverageValue",
      metadata: {
        serverAddress: "http://prometheus.monitoring.svc:9090",
        query: 'sum(herald_connections{namespace="prod",notificationservice="news"})',
        threshold: "5000",
      },
    },
    { type: "cpu", metricType: "Utilization", metadata: { value: "70" } },
  ]);
  const deployment = renderAll(ns, ns.spec).find((o) => o.kind === "Deployment") as unknown as {
    spec: { replicas?: number };
  };
  t.is(deployment.spec.replicas, undefined, "the operator does not write replicas while KEDA scales");
  t.is(hpaName(ns, ns.spec), "keda-hpa-news-edge");
  t.throws(
    () =>
      parseSpec({ nats: { url: "nats://n" }, edge: { autoscaling: { enabled: true, provider: "keda" } } }),
    {
      message: /provider keda needs keda.prometheusAddress/,
    },
  );
});

test("the PodMonitor scrapes the port metrics and labels every series with the resource's name", (t) => {
  const ns = resource(keda);
  const podMonitor = renderPodMonitor(ns, ns.spec) as unknown as {
    metadata: { labels: Record<string, string> };
    spec: {
      selector: { matchLabels: Record<string, string> };
      podMetricsEndpoints: { port: string; relabelings: { sourceLabels: string[]; targetLabel: string }[] }[];
    };
  };
  t.is(podMonitor.metadata.labels.release, "kube-prometheus-stack");
  t.deepEqual(podMonitor.spec.selector.matchLabels, {
    "app.kubernetes.io/name": "herald-edge",
    "app.kubernetes.io/instance": "news",
  });
  const [endpoint] = podMonitor.spec.podMetricsEndpoints;
  t.is(endpoint!.port, "metrics");
  t.deepEqual(endpoint!.relabelings, [
    {
      sourceLabels: ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"],
      targetLabel: "notificationservice",
    },
  ]);
});

test("autoscalingCondition: Unknown until the HPA reports; False with its reason; False MetricMissing; True with the replicas", (t) => {
  const conditions = (active: string, reason = "ValidMetricFound") => [
    { type: "AbleToScale", status: "True", reason: "ReadyForNewScale" },
    { type: "ScalingActive", status: active, reason, message: `ScalingActive ${active}` },
  ];
  const spec = {
    metrics: [
      { type: "Resource", resource: { name: "cpu" } },
      { type: "Pods", pods: { metric: { name: "herald_connections" } } },
    ],
  };
  const cpu = { type: "Resource", resource: { name: "cpu" } };
  const connections = { type: "Pods", pods: { metric: { name: "herald_connections" } } };
  t.like(autoscalingCondition("h", undefined), { status: "Unknown", reason: "HPAPending" });
  t.like(
    autoscalingCondition("h", { spec, status: { conditions: conditions("False", "FailedGetPodsMetric") } }),
    {
      status: false,
      reason: "FailedGetPodsMetric",
    },
  );
  t.like(
    autoscalingCondition("h", {
      spec,
      status: { conditions: [{ type: "AbleToScale", status: "False", reason: "FailedGetScale" }] },
    }),
    { status: false, reason: "FailedGetScale" },
  );
  const partial = autoscalingCondition("h", {
    spec,
    status: { desiredReplicas: 3, currentReplicas: 3, currentMetrics: [cpu], conditions: conditions("True") },
  });
  t.like(partial, { status: false, reason: "MetricMissing" });
  t.regex(partial.message, /Pods metric herald_connections.*never scales down/);
  t.like(
    autoscalingCondition("h", {
      spec,
      status: {
        desiredReplicas: 5,
        currentReplicas: 3,
        currentMetrics: [cpu, connections],
        conditions: conditions("True"),
      },
    }),
    { status: true, reason: "ScalingActive", message: "desired 5, current 3 replicas" },
  );
});
