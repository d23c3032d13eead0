import test from "ava";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { EDGE_VARIABLES, loadConfig } from "../shared/config.js";
import { validateManifest } from "../e2e/operator/kubernetes-schemas.js";
import { edgeEnvironment, renderAll, renderDeployment, PRESTOP_SECONDS } from "./render.js";
import { parseSpec, SpecError, type NotificationService } from "./spec.js";

function resource(spec: unknown): NotificationService {
  return {
    apiVersion: "herald.dev/v1alpha1",
    kind: "NotificationService",
    metadata: { name: "news", namespace: "prod", uid: "uid-1", generation: 1 },
    spec: parseSpec(spec),
  };
}

const full = {
  nats: { url: "nats://nats.nats:4222", credentialsSecret: { name: "nats-creds", key: "herald.creds" } },
  stream: { replicas: 3, maxAge: "7d", storage: "file", deletePolicy: "Delete" },
  edge: {
    replicas: 4,
    drainSeconds: 60,
    autoscaling: { enabled: true, min: 2, max: 20, targetConnectionsPerPod: 5000 },
  },
  auth: {
    jwtSecret: { name: "jwt", key: "secret" },
    apiKeysSecret: { name: "keys", key: "keys" },
    jwtIssuer: "https://id.example.com",
    allowedOrigins: ["https://a.example.com", "https://b.example.com"],
  },
  ingress: { className: "nginx", host: "live.example.com", tlsSecret: "live-tls" },
};

test("every rendered object is valid against the Kubernetes API schemas", async (t) => {
  for (const spec of [{ nats: { url: "nats://n:4222" } }, full]) {
    const ns = resource(spec);
    const manifests = renderAll(ns, ns.spec);
    for (const manifest of manifests) await t.notThrowsAsync(validateManifest(manifest), `${manifest.kind}`);
  }
  const all = renderAll(resource(full), resource(full).spec);
  t.deepEqual(
    all.map((m) => m.kind),
    ["ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Ingress"],
  );
});

test("rendering is deterministic (a second reconcile changes nothing)", (t) => {
  t.deepEqual(renderAll(resource(full), resource(full).spec), renderAll(resource(full), resource(full).spec));
});

test("the ConfigMap and secret env are the edge's own variables, and the edge accepts them", (t) => {
  const ns = resource(full);
  const { configData, secretEnv } = edgeEnvironment(ns, ns.spec);
  const known = new Set(Object.values(EDGE_VARIABLES).map((v) => v.env));
  for (const name of [...Object.keys(configData), ...secretEnv.map((e) => e.name)])
    t.true(known.has(name as never), name);
  t.deepEqual(secretEnv.map((e) => e.name).sort(), [
    "HERALD_API_KEYS",
    "HERALD_JWT_SECRET",
    "HERALD_NATS_CREDS",
  ]);
  t.is(configData.HERALD_MAX_AGE_SECONDS, String(7 * 86400));
  t.is(configData.HERALD_STREAM, "herald_prod_news");
  // The edge's own loader accepts the rendered configuration (secrets given plausible values).
  const env = {
    ...configData,
    HERALD_JWT_SECRET: "x".repeat(32),
    HERALD_API_KEYS: "k1",
    HERALD_NATS_CREDS: "/etc/herald/nats/herald.creds",
  };
  const config = loadConfig(env);
  t.is(config.drainSeconds, 60);
  t.deepEqual(config.allowedOrigins, ["https://a.example.com", "https://b.example.com"]);
  t.is(config.jwtIssuer, "https://id.example.com");
  t.is(config.logLevel, "info");
  t.deepEqual(config.natsUrl, ["nats://nats.nats:4222"]);
});

test("the edge Deployment drains gracefully and runs locked down", (t) => {
  const ns = resource(full);
  const deployment = renderDeployment(ns, ns.spec) as unknown as IDeployment;
  const pod = deployment.spec!.template.spec!;
  t.false("replicas" in deployment.spec!, "the HPA owns replicas");
  t.true(pod.terminationGracePeriodSeconds! > 60 + PRESTOP_SECONDS);
  const container = pod.containers[0]!;
  t.is(container.readinessProbe?.httpGet?.path, "/readyz");
  t.is(container.livenessProbe?.httpGet?.path, "/healthz");
  t.deepEqual(container.lifecycle?.preStop?.exec?.command, ["sleep", String(PRESTOP_SECONDS)]);
  t.true(container.securityContext?.readOnlyRootFilesystem);
  t.true(pod.securityContext?.runAsNonRoot);
  t.is(container.resources?.requests?.cpu, "250m");
  t.is(pod.topologySpreadConstraints?.length, 2);
  const manual = resource({ nats: { url: "nats://n:4222" }, edge: { replicas: 3 } });
  t.is((renderDeployment(manual, manual.spec) as unknown as IDeployment).spec?.replicas, 3);
});

test("the spec's ranges are the edge's own (one source)", (t) => {
  t.throws(
    () =>
      parseSpec({
        nats: { url: "nats://n" },
        limits: { maxFrameBytes: EDGE_VARIABLES.maxFrameBytes.min - 1 },
      }),
    { message: /spec\.limits\.maxFrameBytes/ },
  );
  t.is(
    parseSpec({ nats: { url: "nats://n" } }).limits.maxSubscriptions,
    Number(EDGE_VARIABLES.maxSubscriptions.default),
  );
});

test("an invalid spec is refused with a clear message", (t) => {
  const error = t.throws(() => parseSpec({ nats: { url: "nats://n" }, stream: { storage: "tape" } }), {
    instanceOf: SpecError,
  });
  t.regex(error!.message, /spec\.stream\.storage/);
  t.throws(
    () => parseSpec({ nats: { url: "nats://n" }, edge: { autoscaling: { enabled: true, min: 5, max: 2 } } }),
    { message: /min \(5\) must not exceed max \(2\)/ },
  );
});

test("the pod template carries a hash of the referenced Secrets' content: rotating one rolls the pods", (t) => {
  const ns = resource(full);
  const annotations = (secrets: Map<string, string | undefined>) =>
    (renderDeployment(ns, ns.spec, secrets) as unknown as IDeployment).spec!.template.metadata!.annotations!;
  const keys = new Map([
    ["jwt/secret", "czE="],
    ["keys/keys", "azE="],
    ["nats-creds/herald.creds", "YzE="],
  ]);
  const before = annotations(keys);
  t.regex(before["herald.dev/secrets-hash"]!, /^[0-9a-f]{16}$/);
  t.deepEqual(
    annotations(new Map([...keys].reverse())),
    before,
    "the order Secrets are read in does not matter",
  );
  const rotated = annotations(new Map([...keys, ["keys/keys", "azI="]]));
  t.not(rotated["herald.dev/secrets-hash"], before["herald.dev/secrets-hash"]);
  t.is(
    rotated["herald.dev/config-hash"],
    before["herald.dev/config-hash"],
    "the configuration itself did not change",
  );
  t.not(
    annotations(new Map([...keys, ["keys/keys", undefined]]))["herald.dev/secrets-hash"],
    before["herald.dev/secrets-hash"],
    "a missing key is a change too",
  );
  const plain = resource({ nats: { url: "nats://n:4222" } });
  t.false(
    "herald.dev/secrets-hash" in
      (renderDeployment(plain, plain.spec) as unknown as IDeployment).spec!.template.metadata!.annotations!,
  );
});
