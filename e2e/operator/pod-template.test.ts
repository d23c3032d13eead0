// What platform teams set on the edges (spec.edge.podTemplate, rollout, Service, Ingress, HTTPRoute)
// lands in the objects, valid for Kubernetes; server-side apply keeps what other actors set
// (`kubectl rollout restart`, a label by hand) and removes what the spec no longer says; Secrets
// are watched metadata-only.
import test from "ava";
import { startNats } from "../harness/nats-server.js";
import { validateManifest } from "./kubernetes-schemas.js";
import {
  applyResource as apply,
  createSecret,
  DEPLOYMENTS,
  events,
  NS_PATH,
  startCluster,
  waitFor,
} from "./harness.js";
import type { KubeObject } from "../fake-apiserver/store.js";

interface Container {
  image: string;
  env: { name: string; value?: string }[];
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown>;
}
type Deployment = KubeObject & {
  spec: {
    replicas: number;
    minReadySeconds: number;
    strategy: { rollingUpdate: { maxSurge: number | string; maxUnavailable: number } };
    template: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: Record<string, unknown> & { containers: Container[]; terminationGracePeriodSeconds: number };
    };
  };
};

const RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";

test("podTemplate, rollout, Service, Ingress and HTTPRoute land in the objects and survive a rollout restart", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  const operator = await cluster.startOperator("op-1", {
    HERALD_OPERATOR_EDGE_IMAGE: "registry.example.com/edge:7",
  });
  await createSecret(cluster, "herald-jwt", { secret: "j".repeat(40) });
  const podTemplate = {
    labels: { team: "notifications" },
    annotations: { "example.com/owner": "platform" },
    nodeSelector: { "node.example.com/pool": "edge" },
    tolerations: [
      { key: "dedicated", operator: "Equal", value: "edge", effect: "NoSchedule" },
      { key: "spot", operator: "Exists", effect: "NoSchedule" },
    ],
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: "kubernetes.io/arch", operator: "In", values: ["amd64"] }] },
          ],
        },
      },
    },
    topologySpreadConstraints: [
      { maxSkew: 2, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule" },
    ],
    priorityClassName: "edge-critical",
    imagePullSecrets: [{ name: "registry-pull" }],
    serviceAccountName: "edge-runner",
    env: [{ name: "NODE_OPTIONS", value: "--max-old-space-size=768" }],
    resources: {
      requests: { "ephemeral-storage": "1Gi", cpu: "500m" },
      limits: { "ephemeral-storage": "2Gi" },
    },
    securityContext: { fsGroup: 2000 },
    containerSecurityContext: { seLinuxOptions: { level: "s0:c123,c456" } },
  };
  const spec = {
    nats: { url: nats.url },
    stream: { replicas: 1 },
    edge: {
      replicas: 3,
      drainSeconds: 120,
      rollout: { maxSurge: "50%", drainRate: 200, minReadySeconds: 10 },
      podTemplate,
    },
    auth: { jwtSecret: { name: "herald-jwt", key: "secret" } },
    service: {
      type: "LoadBalancer",
      annotations: { "service.beta.kubernetes.io/aws-load-balancer-type": "external" },
      externalTrafficPolicy: "Local",
      ipFamilyPolicy: "PreferDualStack",
    },
    ingress: {
      className: "traefik",
      host: "live.example.com",
      annotations: { "traefik.ingress.kubernetes.io/router.entrypoints": "websecure" },
      paths: [{ path: "/v1", pathType: "Prefix" }],
    },
    gateway: {
      parentRefs: [{ name: "public", namespace: "gateways", sectionName: "https" }],
      hostnames: ["live.example.com"],
      requestTimeout: "0s",
    },
  };
  await apply(cluster, "pt", spec);
  const deployment = (await waitFor("the Deployment", () =>
    cluster.get(`${DEPLOYMENTS}/pt-edge`),
  )) as Deployment;
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0]!;
  t.is(container.image, "registry.example.com/edge:7", "the operator's default image");
  t.like(deployment.spec.template.metadata.labels, {
    team: "notifications",
    "app.kubernetes.io/name": "herald-edge",
  });
  t.is(deployment.spec.template.metadata.annotations["example.com/owner"], "platform");
  t.deepEqual(pod.nodeSelector, podTemplate.nodeSelector);
  t.deepEqual(pod.tolerations, podTemplate.tolerations);
  t.deepEqual(pod.affinity, podTemplate.affinity);
  t.deepEqual(pod.topologySpreadConstraints, [
    {
      labelSelector: {
        matchLabels: { "app.kubernetes.io/name": "herald-edge", "app.kubernetes.io/instance": "pt" },
      },
      ...podTemplate.topologySpreadConstraints[0],
    },
  ]);
  t.is(pod.priorityClassName, "edge-critical");
  t.deepEqual(pod.imagePullSecrets, [{ name: "registry-pull" }]);
  t.is(pod.serviceAccountName, "edge-runner");
  t.like(pod.securityContext as object, { runAsNonRoot: true, fsGroup: 2000 });
  t.false("runAsUser" in (pod.securityContext as object), "no fixed uid unless asked");
  t.deepEqual(container.securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
    seLinuxOptions: { level: "s0:c123,c456" },
  });
  t.true(container.env.some((e) => e.name === "NODE_OPTIONS" && e.value === "--max-old-space-size=768"));
  t.deepEqual(container.resources, {
    requests: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "1Gi" },
    limits: { memory: "1Gi", "ephemeral-storage": "2Gi" },
  });
  // Connection-aware rollout: never one pod less, a surge, a grace period covering the drain window.
  t.deepEqual(deployment.spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: "50%" });
  t.is(deployment.spec.minReadySeconds, 10);
  t.true(pod.terminationGracePeriodSeconds >= 120 + 5, "the grace period covers preStop + the drain window");
  const configMap = (await cluster.get("/api/v1/namespaces/default/configmaps/pt-edge")) as KubeObject & {
    data: Record<string, string>;
  };
  t.is(configMap.data.HERALD_DRAIN_RATE, "200");
  t.is(configMap.data.HERALD_DRAIN_SECONDS, "120");
  t.is(configMap.data.HERALD_HOST, "::", "dual-stack listening");

  const service = await waitFor("the Service", () => cluster.get("/api/v1/namespaces/default/services/pt"));
  t.like(service, {
    metadata: { annotations: { "service.beta.kubernetes.io/aws-load-balancer-type": "external" } },
    spec: { type: "LoadBalancer", externalTrafficPolicy: "Local", ipFamilyPolicy: "PreferDualStack" },
  });
  const ingress = (await waitFor("the Ingress", () =>
    cluster.get("/apis/networking.k8s.io/v1/namespaces/default/ingresses/pt"),
  ))!;
  const ingressAnnotations = ingress.metadata.annotations as Record<string, string>;
  t.is(ingressAnnotations["traefik.ingress.kubernetes.io/router.entrypoints"], "websecure");
  t.false(
    Object.keys(ingressAnnotations).some((key) => key.startsWith("nginx.")),
    "no ingress-nginx annotations for another controller",
  );
  t.like(ingress, { spec: { ingressClassName: "traefik", rules: [{ http: { paths: [{ path: "/v1" }] } }] } });
  const route = (await waitFor("the HTTPRoute", () =>
    cluster.get("/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/pt"),
  ))!;
  t.like(route, {
    spec: {
      parentRefs: [{ name: "public", namespace: "gateways", sectionName: "https" }],
      hostnames: ["live.example.com"],
      rules: [{ backendRefs: [{ name: "pt", port: 8080 }], timeouts: { request: "0s" } }],
    },
  });
  for (const object of [deployment, service, ingress, route, configMap])
    await t.notThrowsAsync(validateManifest(object), object.kind);

  // kubectl rollout restart (a strategic merge patch by field manager kubectl-rollout) and a label
  // set by hand survive the operator's next reconciles: it applies only its own fields.
  t.regex(await cluster.kubectl("rollout", "restart", "deployment/pt-edge"), /restarted/);
  await cluster.kubectl("label", "deployment", "pt-edge", "cost-center=42");
  const restarted = ((await cluster.get(`${DEPLOYMENTS}/pt-edge`)) as Deployment).spec.template.metadata
    .annotations[RESTARTED_AT];
  t.truthy(restarted);
  const reconciles = await operator.metric("controller_runtime_reconcile_total");
  await cluster.kubectl("annotate", "notificationservice", "pt", "touched=1");
  await waitFor(
    "a reconcile",
    async () => (await operator.metric("controller_runtime_reconcile_total")) > reconciles + 1,
  );
  // A spec change rolls the edges: the operator's apply changes its fields, the restart annotation stays.
  const lessTolerant = structuredClone(spec);
  lessTolerant.edge.podTemplate.tolerations = [podTemplate.tolerations[0]!];
  lessTolerant.edge.podTemplate.nodeSelector = undefined as never;
  await apply(cluster, "pt", lessTolerant);
  const after = (await waitFor("one toleration", async () => {
    const d = (await cluster.get(`${DEPLOYMENTS}/pt-edge`)) as Deployment;
    return (d.spec.template.spec.tolerations as unknown[]).length === 1 && d;
  })) as Deployment;
  t.is(after.spec.template.metadata.annotations[RESTARTED_AT], restarted, "the rollout restart survives");
  t.is(
    (after.metadata.labels as Record<string, string>)["cost-center"],
    "42",
    "the label set by hand survives",
  );
  t.false("nodeSelector" in after.spec.template.spec, "a field the operator no longer renders is removed");
  t.is(
    after.spec.template.metadata.labels.team,
    "notifications",
    "the rest of the podTemplate is still there",
  );
  const managers = (after.metadata.managedFields as { manager: string; operation: string }[]).map(
    (m) => `${m.manager}/${m.operation}`,
  );
  t.true(managers.includes("herald-operator/Apply"), managers.join(", "));
  t.true(managers.includes("kubectl-rollout/Update"), managers.join(", "));

  // Turning autoscaling on hands the replica count over without a dip: the HPA starts from 3 pods.
  t.is(after.spec.replicas, 3);
  await apply(cluster, "pt", {
    ...lessTolerant,
    edge: { ...lessTolerant.edge, autoscaling: { enabled: true, min: 2, max: 9 } },
  });
  await waitFor("the HPA", () =>
    cluster.get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/pt-edge"),
  );
  const handedOver = (await waitFor("the template without the operator's replicas", async () => {
    const d = (await cluster.get(`${DEPLOYMENTS}/pt-edge`)) as Deployment;
    const fields = (
      d.metadata.managedFields as { manager: string; fieldsV1: { "f:spec"?: Record<string, unknown> } }[]
    ).find((m) => m.manager === "herald-operator")?.fieldsV1["f:spec"];
    return fields && !("f:replicas" in fields) && d;
  })) as Deployment;
  t.is(handedOver.spec.replicas, 3, "the count is kept (handed over), not reset to 1");

  // The Secret watch is metadata-only: the operator never lists or watches Secret data.
  const secretCollections = cluster.api.requests.filter(
    (r) => /\/secrets$/.test(r.path) && r.method === "GET" && !r.userAgent.startsWith("kubectl"),
  );
  t.true(secretCollections.length > 0);
  for (const request of secretCollections)
    t.regex(request.accept, /as=PartialObjectMetadata/, request.path + request.query);
  t.truthy(await cluster.get(`${NS_PATH}/pt`));
});

test("the CRD refuses podTemplate settings the operator owns, at kubectl apply", async (t) => {
  const cluster = await startCluster(t);
  const base = { nats: { url: "nats://n:4222" } };
  const refusal = async (edge: Record<string, unknown>) =>
    (await t.throwsAsync(apply(cluster, "bad", { ...base, edge })))!.message;
  t.regex(
    await refusal({ podTemplate: { env: [{ name: "HERALD_ALLOW_ANONYMOUS", value: "true" }] } }),
    /spec\.edge\.podTemplate\.env: Invalid value: "array": podTemplate\.env must not set HERALD_\* variables/,
  );
  t.regex(
    await refusal({ podTemplate: { labels: { "app.kubernetes.io/instance": "other" } } }),
    /podTemplate\.labels must not set app\.kubernetes\.io\/name or app\.kubernetes\.io\/instance/,
  );
  t.regex(await refusal({ rollout: { maxSurge: "150%" } }), /rollout\.maxSurge must be at least 1/);
  t.regex(
    (await t.throwsAsync(
      apply(cluster, "bad", { ...base, service: { type: "ClusterIP", externalTrafficPolicy: "Local" } }),
    ))!.message,
    /service\.externalTrafficPolicy needs service\.type NodePort or LoadBalancer/,
  );
  t.regex(
    (await t.throwsAsync(
      apply(cluster, "bad", {
        nats: {
          url: "nats://n:4222",
          nkeySecret: { name: "a", key: "b" },
          credentialsSecret: { name: "a", key: "c" },
        },
      }),
    ))!.message,
    /set at most one of credentialsSecret, nkeySecret and userPasswordSecret/,
  );
  await apply(cluster, "good", { ...base, edge: { rollout: { maxSurge: 2 } } });
});

test("spec.gateway on a cluster without the Gateway API: a Warning Event says so, everything else is deployed", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t, { gatewayApi: false });
  await cluster.startOperator("op-1");
  await apply(cluster, "gw", {
    nats: { url: nats.url },
    stream: { replicas: 1 },
    auth: { allowAnonymous: true },
    gateway: { parentRefs: [{ name: "public" }], hostnames: ["live.example.com"] },
  });
  const warning = await waitFor("the GatewayApiMissing Event", async () =>
    (await events(cluster)).find((e) => e.reason === "GatewayApiMissing" && e.involvedObject.name === "gw"),
  );
  t.is(warning.type, "Warning");
  t.regex(warning.message, /install the Gateway API CRDs/);
  t.truthy(await waitFor("the Deployment", () => cluster.get(`${DEPLOYMENTS}/gw-edge`)));
  // The Service is applied after the Deployment, in the same reconcile.
  t.truthy(await waitFor("the Service", () => cluster.get("/api/v1/namespaces/default/services/gw")));
});
