import test from "ava";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { EDGE_VARIABLES, loadConfig } from "../shared/config.js";
import { validateManifest } from "../e2e/operator/kubernetes-schemas.js";
import type { VariableSpec } from "../shared/config.js";
import { edgeEnvironment, imageVersion, renderAll, renderDeployment, PRESTOP_SECONDS } from "./render.js";
import {
  EDGE_VARIABLE_FIELDS,
  NotificationServiceSpec,
  parseSpec,
  SETTINGS_VARIABLES,
  SpecError,
  type NotificationService,
} from "./spec.js";
import { resource } from "./test/resource.js";

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

test("every HERALD_* variable is reachable from the spec: a field of its own, or spec.edge.settings", (t) => {
  const fields = EDGE_VARIABLE_FIELDS as Record<string, string>;
  t.deepEqual(
    [...Object.keys(fields), ...SETTINGS_VARIABLES].sort(),
    Object.keys(EDGE_VARIABLES).sort(),
    "each variable once",
  );
  // Each named field exists in the CRD schema.
  const schema = JSON.parse(JSON.stringify(NotificationServiceSpec)) as {
    properties: Record<string, unknown>;
  };
  for (const [key, where] of Object.entries(fields)) {
    if (!where.startsWith("spec.")) continue;
    const path = where.split(" ")[0]!.split(".").slice(1);
    let node = schema as { properties?: Record<string, unknown> } | undefined;
    for (const part of path) node = node?.properties?.[part] as typeof node;
    t.truthy(node, `${key}: ${where} is a spec field`);
  }
  // Specs that set everything (one per way to authenticate to NATS) render every variable.
  const settings = Object.fromEntries(
    SETTINGS_VARIABLES.map((key) => {
      const variable = EDGE_VARIABLES[key] as VariableSpec;
      const value = variable.secret
        ? { name: "extra", key }
        : variable.kind === "integer"
          ? (variable.min ?? 0)
          : variable.kind === "boolean"
            ? true
            : variable.kind === "enum"
              ? variable.values![0]
              : variable.kind === "list"
                ? ["a"]
                : "x";
      return [key, value];
    }),
  );
  const everything = (nats: Record<string, unknown>) =>
    resource({
      nats: {
        url: "tls://nats.nats:4222",
        jetstreamDomain: "hub",
        tls: { caSecret: { name: "nats-ca" }, clientCertSecret: { name: "nats-client" } },
        ...nats,
      },
      stream: { name: "news", subjectPrefix: "news" },
      edge: { settings },
      auth: {
        jwtSecret: { name: "jwt", key: "secret" },
        jwtPublicKey: "-----BEGIN PUBLIC KEY-----",
        jwksUrl: "https://id.example.com/jwks",
        jwtIssuer: "https://id.example.com",
        jwtAudience: "news",
        apiKeysSecret: { name: "keys", key: "keys" },
        allowedOrigins: ["https://a.example.com"],
        allowAnonymous: true,
        anonymousPublish: true,
      },
    });
  const rendered = new Set<string>();
  for (const nats of [
    { credentialsSecret: { name: "c", key: "herald.creds" } },
    { nkeySecret: { name: "n", key: "seed" } },
    { userPasswordSecret: { name: "u" } },
  ]) {
    const ns = everything(nats);
    const { configData, secretEnv } = edgeEnvironment(ns, ns.spec);
    for (const name of [...Object.keys(configData), ...secretEnv.map((e) => e.name)]) rendered.add(name);
  }
  for (const variable of Object.values(EDGE_VARIABLES))
    t.true(rendered.has(variable.env), `${variable.env} is rendered`);
});

test("NATS TLS, nkey and user/password: files mounted from their Secrets, the password as a secret env", (t) => {
  const ns = resource({
    nats: {
      url: "tls://nats.nats:4222",
      userPasswordSecret: { name: "nats-user", passwordKey: "pw" },
      tls: { caSecret: { name: "nats-ca" }, clientCertSecret: { name: "nats-client" } },
      jetstreamDomain: "hub",
    },
  });
  const deployment = renderDeployment(ns, ns.spec) as unknown as IDeployment;
  const pod = deployment.spec!.template.spec!;
  t.deepEqual(
    pod.volumes!.map((v) => [v.name, v.secret?.secretName, v.secret?.items?.map((i) => i.key)]),
    [
      ["tmp", undefined, undefined],
      ["nats-ca", "nats-ca", ["ca.crt"]],
      ["nats-client-cert", "nats-client", ["tls.crt", "tls.key"]],
    ],
  );
  const { configData, secretEnv } = edgeEnvironment(ns, ns.spec);
  t.is(configData.HERALD_NATS_TLS_CA, "/etc/herald/nats-tls/ca/ca.crt");
  t.is(configData.HERALD_NATS_TLS_CERT, "/etc/herald/nats-tls/client/tls.crt");
  t.is(configData.HERALD_JETSTREAM_DOMAIN, "hub");
  t.deepEqual(
    secretEnv.filter((e) => e.name.startsWith("HERALD_NATS")),
    [
      { name: "HERALD_NATS_USER", valueFrom: { secretKeyRef: { name: "nats-user", key: "username" } } },
      { name: "HERALD_NATS_PASSWORD", valueFrom: { secretKeyRef: { name: "nats-user", key: "pw" } } },
      // A secret variable's value (here the key's path) never goes into the ConfigMap.
      { name: "HERALD_NATS_TLS_KEY", value: "/etc/herald/nats-tls/client/tls.key" },
    ],
  );
  t.is(pod.automountServiceAccountToken, false, "the edges never call the Kubernetes API");
});

test("the edge image: the operator's default unless pinned; its version is the tag or digest", (t) => {
  const plain = resource({ nats: { url: "nats://n:4222" } });
  const image = (ns: NotificationService, options?: { defaultEdgeImage: string }) =>
    (renderDeployment(ns, ns.spec, new Map(), options) as unknown as IDeployment).spec!.template.spec!
      .containers[0]!.image;
  t.is(image(plain, { defaultEdgeImage: "r.example.com/edge:2.0.0" }), "r.example.com/edge:2.0.0");
  const pinned = resource({ nats: { url: "nats://n:4222" }, edge: { image: "mine/edge:1" } });
  t.is(image(pinned, { defaultEdgeImage: "r.example.com/edge:2.0.0" }), "mine/edge:1");
  t.is(imageVersion("registry:5000/herald/edge:1.2.3"), "1.2.3");
  t.is(imageVersion("herald/edge@sha256:abc"), "sha256:abc");
  t.is(imageVersion("registry:5000/herald/edge"), "latest");
});

test("the edge PDB lets unready pods go (a NATS outage must not block node drains)", (t) => {
  const ns = resource({ nats: { url: "nats://n:4222" } });
  const pdb = renderAll(ns, ns.spec).find((m) => m.kind === "PodDisruptionBudget")!;
  t.like(pdb, { spec: { maxUnavailable: 1, unhealthyPodEvictionPolicy: "AlwaysAllow" } });
});
