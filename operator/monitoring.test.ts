// What the operator renders for monitoring: the edges' internal port is a named container port
// that a PodMonitor scrapes, but no Service port and no Ingress route leads to it.
import test from "ava";
import { renderAll, METRICS_PORT } from "./render.js";
import { parseSpec, type NotificationService } from "./spec.js";

function resource(spec: unknown): NotificationService {
  return {
    apiVersion: "herald.dev/v1alpha1",
    kind: "NotificationService",
    metadata: { name: "news", namespace: "prod", uid: "uid-1", generation: 1 },
    spec: parseSpec(spec),
  };
}

interface Rendered {
  kind: string;
  data?: Record<string, string>;
  spec?: {
    ports?: { name: string; port: number; targetPort: string }[];
    template?: { spec: { containers: { ports: { name: string; containerPort: number }[] }[] } };
    rules?: { http: { paths: { backend: { service: { port: { name?: string; number?: number } } } }[] } }[];
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
