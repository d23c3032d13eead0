// Pure functions: a NotificationService (with its defaulted spec) → the Kubernetes objects the
// operator owns. No I/O here, so a second reconcile renders exactly the same objects.
import { createHash } from "node:crypto";
import { EDGE_VARIABLES, loadConfig, type EdgeConfig, type VariableSpec } from "../shared/config.js";
import {
  API_VERSION,
  KIND,
  durationSeconds,
  type NotificationService,
  type NotificationServiceSpec,
  type SecretKeyRef,
} from "./spec.js";

/** A Kubernetes object as the operator writes it. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
  };
  [field: string]: unknown;
}

export const EDGE_PORT = 8080;
/** The edges' internal port (/metrics, /v1/admin/stats): a named container port for scraping, in no Service. */
export const METRICS_PORT = 9464;
/** Seconds the preStop hook waits so that load balancers stop sending new connections first. */
export const PRESTOP_SECONDS = 5;
const NATS_CREDS_DIR = "/etc/herald/nats";

type EdgeKey = keyof typeof EDGE_VARIABLES;
type EdgeValue = { value: string } | { secretKeyRef: { name: string; key: string } };

export function streamName(ns: NotificationService, spec: NotificationServiceSpec): string {
  if (spec.stream.name) return spec.stream.name;
  const plain = `herald_${ns.metadata.namespace}_${ns.metadata.name}`.replace(/[^A-Za-z0-9_-]/g, "_");
  if (plain.length <= 64) return plain;
  // Names up to 63+63 characters: keep a readable head and make it unique with a hash.
  return `${plain.slice(0, 47)}_${createHash("sha256").update(plain).digest("hex").slice(0, 16)}`;
}

function subjectPrefix(ns: NotificationService, spec: NotificationServiceSpec): string {
  return spec.stream.subjectPrefix ?? streamName(ns, spec);
}

export function names(ns: NotificationService) {
  const name = ns.metadata.name;
  return { edge: `${name}-edge`, service: name, ingress: name };
}

function selectorLabels(ns: NotificationService): Record<string, string> {
  return { "app.kubernetes.io/name": "herald-edge", "app.kubernetes.io/instance": ns.metadata.name };
}

export function selectorString(ns: NotificationService): string {
  return Object.entries(selectorLabels(ns))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

function labels(ns: NotificationService): Record<string, string> {
  return {
    ...selectorLabels(ns),
    "app.kubernetes.io/managed-by": "herald-operator",
    "app.kubernetes.io/part-of": "herald",
  };
}

function metadata(
  ns: NotificationService,
  name: string,
  annotations?: Record<string, string>,
): Manifest["metadata"] {
  return {
    name,
    namespace: ns.metadata.namespace,
    labels: labels(ns),
    ...(annotations ? { annotations } : {}),
    ownerReferences: [
      {
        apiVersion: API_VERSION,
        kind: KIND,
        name: ns.metadata.name,
        uid: ns.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  };
}

/** The edge's settings, keyed by EDGE_VARIABLES field: what the spec says, in the edge's terms. */
function edgeSettings(
  ns: NotificationService,
  spec: NotificationServiceSpec,
): Partial<Record<EdgeKey, EdgeValue>> {
  const v = (value: string | number | boolean): EdgeValue => ({ value: String(value) });
  const settings: Partial<Record<EdgeKey, EdgeValue>> = {
    port: v(EDGE_PORT),
    metricsPort: v(METRICS_PORT),
    natsUrl: v(spec.nats.url),
    stream: v(streamName(ns, spec)),
    subjectPrefix: v(subjectPrefix(ns, spec)),
    streamReplicas: v(spec.stream.replicas),
    streamStorage: v(spec.stream.storage),
    maxAgeSeconds: v(durationSeconds(spec.stream.maxAge)),
    maxMsgsPerTopic: v(spec.stream.maxMsgsPerTopic),
    maxBytes: v(spec.stream.maxBytes),
    duplicateWindowSeconds: v(durationSeconds(spec.stream.duplicateWindow)),
    allowAnonymous: v(spec.auth.allowAnonymous),
    maxFrameBytes: v(spec.limits.maxFrameBytes),
    maxSubscriptions: v(spec.limits.maxSubscriptions),
    sendBufferBytes: v(spec.limits.sendBufferBytes),
    cachePerTopic: v(spec.limits.cachePerTopic),
    maxConnections: v(spec.limits.maxConnections),
    framesPerSecond: v(spec.limits.framesPerSecond),
    publishesPerSecond: v(spec.limits.publishesPerSecond),
    drainSeconds: v(spec.edge.drainSeconds),
    logLevel: v(spec.edge.logLevel),
  };
  if (spec.nats.credentialsSecret)
    settings.natsCreds = v(`${NATS_CREDS_DIR}/${spec.nats.credentialsSecret.key}`);
  if (spec.auth.jwtSecret) settings.jwtSecret = { secretKeyRef: spec.auth.jwtSecret };
  if (spec.auth.jwtPublicKey) settings.jwtPublicKey = v(spec.auth.jwtPublicKey);
  if (spec.auth.jwksUrl) settings.jwksUrl = v(spec.auth.jwksUrl);
  if (spec.auth.jwtIssuer) settings.jwtIssuer = v(spec.auth.jwtIssuer);
  if (spec.auth.jwtAudience) settings.jwtAudience = v(spec.auth.jwtAudience);
  if (spec.auth.allowedOrigins) settings.allowedOrigins = v(spec.auth.allowedOrigins.join(","));
  if (spec.auth.apiKeysSecret) settings.apiKeys = { secretKeyRef: spec.auth.apiKeysSecret };
  return settings;
}

/**
 * Splits the settings the way the edge's variable list says: plain values go into the ConfigMap,
 * `secret: true` variables become container env entries (from a Secret, never copied into the
 * ConfigMap). The variable names always come from EDGE_VARIABLES.
 */
export function edgeEnvironment(ns: NotificationService, spec: NotificationServiceSpec) {
  const configData: Record<string, string> = {};
  const secretEnv: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef: { name: string; key: string } };
  }[] = [];
  const settings = edgeSettings(ns, spec);
  for (const key of Object.keys(EDGE_VARIABLES) as EdgeKey[]) {
    const setting = settings[key];
    if (!setting) continue;
    const variable: VariableSpec = EDGE_VARIABLES[key];
    if ("secretKeyRef" in setting)
      secretEnv.push({ name: variable.env, valueFrom: { secretKeyRef: setting.secretKeyRef } });
    else if (variable.secret) secretEnv.push({ name: variable.env, value: setting.value });
    else configData[variable.env] = setting.value;
  }
  return { configData, secretEnv };
}

/**
 * The content (base64, as stored) of every Secret key the edges use, keyed by `secretKey`;
 * undefined when the Secret or the key is missing. Read by the controller, hashed into the pod
 * template so that rotating a Secret rolls the edges (they read their secrets only at start).
 */
export type SecretContents = ReadonlyMap<string, string | undefined>;

export const secretKey = (ref: SecretKeyRef) => `${ref.name}/${ref.key}`;

/**
 * The config an edge would load from what is rendered (ConfigMap plus the Secret values it gets),
 * through the edge's own `loadConfig`: every check the edge makes at start (cross-field ones
 * included) is made here first, so a spec the edges would refuse is never rolled out. A Secret
 * or key still missing counts as unset, as the edge would see it. Throws the edge's ConfigError.
 */
export function edgeConfig(
  ns: NotificationService,
  spec: NotificationServiceSpec,
  secrets: SecretContents = new Map(),
): EdgeConfig {
  const { configData, secretEnv } = edgeEnvironment(ns, spec);
  const env: Record<string, string | undefined> = { ...configData };
  for (const entry of secretEnv) {
    const ref = entry.valueFrom?.secretKeyRef;
    const encoded = ref ? secrets.get(secretKey(ref)) : undefined;
    env[entry.name] = ref
      ? encoded === undefined
        ? undefined
        : Buffer.from(encoded, "base64").toString("utf8")
      : entry.value;
  }
  return loadConfig(env);
}

function hashOf(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
}

export function renderConfigMap(ns: NotificationService, spec: NotificationServiceSpec): Manifest {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: metadata(ns, names(ns).edge),
    data: edgeEnvironment(ns, spec).configData,
  };
}

export function renderDeployment(
  ns: NotificationService,
  spec: NotificationServiceSpec,
  secrets: SecretContents = new Map(),
): Manifest {
  const { configData, secretEnv } = edgeEnvironment(ns, spec);
  const creds = spec.nats.credentialsSecret;
  const volumes: unknown[] = [{ name: "tmp", emptyDir: {} }];
  const mounts: unknown[] = [{ name: "tmp", mountPath: "/tmp" }];
  if (creds) {
    volumes.push({
      name: "nats-creds",
      secret: { secretName: creds.name, items: [{ key: creds.key, path: creds.key }] },
    });
    mounts.push({ name: "nats-creds", mountPath: NATS_CREDS_DIR, readOnly: true });
  }
  const selector = selectorLabels(ns);
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: "http" },
    periodSeconds,
    failureThreshold,
    timeoutSeconds: 2,
  });
  const deploymentSpec: Record<string, unknown> = {
    selector: { matchLabels: selector },
    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
    template: {
      metadata: {
        labels: labels(ns),
        // A changed configuration must roll the pods: the edge reads its environment only at start.
        annotations: {
          "herald.dev/config-hash": hashOf({ configData, secretEnv }),
          // Sorted so that the order Secrets are read in never rolls the pods; missing keys hash as null.
          ...(secrets.size > 0
            ? { "herald.dev/secrets-hash": hashOf([...secrets].sort(([a], [b]) => a.localeCompare(b))) }
            : {}),
        },
      },
      spec: {
        // The edge drains over drainSeconds after the preStop delay; leave room to finish.
        terminationGracePeriodSeconds: PRESTOP_SECONDS + spec.edge.drainSeconds + 15,
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 1000,
          runAsGroup: 1000,
          fsGroup: 1000,
          seccompProfile: { type: "RuntimeDefault" },
        },
        topologySpreadConstraints: ["topology.kubernetes.io/zone", "kubernetes.io/hostname"].map(
          (topologyKey) => ({
            maxSkew: 1,
            topologyKey,
            whenUnsatisfiable: "ScheduleAnyway",
            labelSelector: { matchLabels: selector },
          }),
        ),
        volumes,
        containers: [
          {
            name: "edge",
            image: spec.edge.image,
            ports: [
              { name: "http", containerPort: EDGE_PORT, protocol: "TCP" },
              { name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" },
            ],
            envFrom: [{ configMapRef: { name: names(ns).edge } }],
            env: secretEnv,
            readinessProbe: probe("/readyz", 5, 2),
            livenessProbe: probe("/healthz", 10, 3),
            lifecycle: { preStop: { exec: { command: ["sleep", String(PRESTOP_SECONDS)] } } },
            resources: spec.edge.resources,
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ["ALL"] },
            },
            volumeMounts: mounts,
          },
        ],
      },
    },
  };
  // With autoscaling on, the HPA owns the replica count: the operator must not write it.
  if (!spec.edge.autoscaling.enabled) deploymentSpec.replicas = spec.edge.replicas;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: metadata(ns, names(ns).edge),
    spec: deploymentSpec,
  };
}

export function renderService(ns: NotificationService): Manifest {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(ns, names(ns).service),
    spec: {
      type: "ClusterIP",
      selector: selectorLabels(ns),
      ports: [{ name: "http", port: EDGE_PORT, targetPort: "http", protocol: "TCP" }],
    },
  };
}

export function renderPodDisruptionBudget(ns: NotificationService): Manifest {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: metadata(ns, names(ns).edge),
    // One pod at a time: its clients reconnect to the others, which must not all drain at once.
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(ns) } },
  };
}

export function renderHorizontalPodAutoscaler(
  ns: NotificationService,
  spec: NotificationServiceSpec,
): Manifest {
  const scaling = spec.edge.autoscaling;
  const metrics: unknown[] = [
    {
      type: "Resource",
      resource: { name: "cpu", target: { type: "Utilization", averageUtilization: scaling.targetCPU } },
    },
  ];
  if (scaling.targetConnectionsPerPod !== undefined) {
    metrics.push({
      type: "Pods",
      pods: {
        metric: { name: "herald_connections" },
        target: { type: "AverageValue", averageValue: String(scaling.targetConnectionsPerPod) },
      },
    });
  }
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: metadata(ns, names(ns).edge),
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: names(ns).edge },
      minReplicas: scaling.min,
      maxReplicas: scaling.max,
      metrics,
      // Scale down slowly: every removed pod makes its clients reconnect.
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: 300,
          policies: [{ type: "Pods", value: 1, periodSeconds: 60 }],
        },
      },
    },
  };
}

export function renderIngress(ns: NotificationService, spec: NotificationServiceSpec): Manifest | undefined {
  const ingress = spec.ingress;
  if (!ingress) return undefined;
  const timeout = String(3600);
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    // WebSockets live for hours: the default 60 s proxy timeouts would cut every idle connection.
    metadata: metadata(ns, names(ns).ingress, {
      "nginx.ingress.kubernetes.io/proxy-read-timeout": timeout,
      "nginx.ingress.kubernetes.io/proxy-send-timeout": timeout,
      "nginx.ingress.kubernetes.io/proxy-http-version": "1.1",
    }),
    spec: {
      ...(ingress.className ? { ingressClassName: ingress.className } : {}),
      ...(ingress.tlsSecret ? { tls: [{ hosts: [ingress.host], secretName: ingress.tlsSecret }] } : {}),
      rules: [
        {
          host: ingress.host,
          http: {
            paths: [
              {
                path: "/",
                pathType: "Prefix",
                backend: { service: { name: names(ns).service, port: { name: "http" } } },
              },
            ],
          },
        },
      ],
    },
  };
}

export function endpoint(ns: NotificationService, spec: NotificationServiceSpec): string {
  if (spec.ingress) return `${spec.ingress.tlsSecret ? "wss" : "ws"}://${spec.ingress.host}/v1/ws`;
  return `ws://${names(ns).service}.${ns.metadata.namespace}.svc:${EDGE_PORT}/v1/ws`;
}

/** Every object the operator owns for this resource, in the order they are applied. */
export function renderAll(
  ns: NotificationService,
  spec: NotificationServiceSpec,
  secrets: SecretContents = new Map(),
): Manifest[] {
  const manifests = [
    renderConfigMap(ns, spec),
    renderDeployment(ns, spec, secrets),
    renderService(ns),
    renderPodDisruptionBudget(ns),
  ];
  if (spec.edge.autoscaling.enabled) manifests.push(renderHorizontalPodAutoscaler(ns, spec));
  const ingress = renderIngress(ns, spec);
  if (ingress) manifests.push(ingress);
  return manifests;
}

/** Kinds the operator may own, so that an object no longer rendered (HPA, Ingress) is removed. */
export const OWNED_KINDS = [
  { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps" },
  { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments" },
  { apiVersion: "v1", kind: "Service", plural: "services" },
  { apiVersion: "policy/v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets" },
  { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", plural: "horizontalpodautoscalers" },
  { apiVersion: "networking.k8s.io/v1", kind: "Ingress", plural: "ingresses" },
] as const;
