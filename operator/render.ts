// Pure functions: a NotificationService (with its defaulted spec) → the Kubernetes objects the
// operator owns. No I/O here, so a second reconcile renders exactly the same objects.
import { createHash } from "node:crypto";
import { EDGE_VARIABLES, loadConfig, type EdgeConfig, type VariableSpec } from "../shared/config.js";
import { DEFAULT_EDGE_IMAGE } from "./settings.js";
import {
  API_VERSION,
  CLIENT_PATHS,
  KIND,
  durationSeconds,
  edgeSettings as specSettings,
  SETTINGS_VARIABLES,
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
const NATS_NKEY_DIR = "/etc/herald/nats-nkey";
const NATS_CA_DIR = "/etc/herald/nats-tls/ca";
const NATS_CLIENT_DIR = "/etc/herald/nats-tls/client";

/** What the operator brings to rendering besides the resource (its own settings). */
export interface RenderOptions {
  /** The edge image when spec.edge.image is unset (the operator's, from the chart). */
  defaultEdgeImage: string;
}
export const DEFAULT_RENDER_OPTIONS: RenderOptions = { defaultEdgeImage: DEFAULT_EDGE_IMAGE };

/** The image the edges run: the pinned one, or the operator's default. */
export function edgeImage(
  spec: NotificationServiceSpec,
  options: RenderOptions = DEFAULT_RENDER_OPTIONS,
): string {
  return spec.edge.image ?? options.defaultEdgeImage;
}

/** An image's version: its digest, or its tag ("latest" when it has neither). */
export function imageVersion(image: string): string {
  const at = image.indexOf("@");
  if (at >= 0) return image.slice(at + 1);
  const lastSegment = image.slice(image.lastIndexOf("/") + 1);
  const colon = lastSegment.lastIndexOf(":");
  return colon >= 0 ? lastSegment.slice(colon + 1) : "latest";
}

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
  return { edge: `${name}-edge`, service: name, ingress: name, route: name };
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
function edgeVariables(
  ns: NotificationService,
  spec: NotificationServiceSpec,
): Partial<Record<EdgeKey, EdgeValue>> {
  const v = (value: string | number | boolean): EdgeValue => ({ value: String(value) });
  const nats = spec.nats;
  const settings: Partial<Record<EdgeKey, EdgeValue>> = {
    port: v(EDGE_PORT),
    metricsPort: v(METRICS_PORT),
    notificationService: v(`${ns.metadata.namespace}/${ns.metadata.name}`),
    host: v(spec.edge.listenHost),
    natsUrl: v(nats.url),
    headCheckSeconds: v(nats.headCheckSeconds),
    stream: v(streamName(ns, spec)),
    subjectPrefix: v(subjectPrefix(ns, spec)),
    streamReplicas: v(spec.stream.replicas),
    streamStorage: v(spec.stream.storage),
    maxAgeSeconds: v(durationSeconds(spec.stream.maxAge)),
    maxMsgsPerTopic: v(spec.stream.maxMsgsPerTopic),
    maxBytes: v(spec.stream.maxBytes),
    duplicateWindowSeconds: v(durationSeconds(spec.stream.duplicateWindow)),
    allowAnonymous: v(spec.auth.allowAnonymous),
    anonymousPublish: v(spec.auth.anonymousPublish),
    maxFrameBytes: v(spec.limits.maxFrameBytes),
    maxSubscriptions: v(spec.limits.maxSubscriptions),
    sendBufferBytes: v(spec.limits.sendBufferBytes),
    cachePerTopic: v(spec.limits.cachePerTopic),
    maxConnections: v(spec.limits.maxConnections),
    framesPerSecond: v(spec.limits.framesPerSecond),
    publishesPerSecond: v(spec.limits.publishesPerSecond),
    maxPendingUpgrades: v(spec.limits.maxPendingUpgrades),
    historyLimit: v(spec.limits.historyLimit),
    heartbeatMs: v(spec.timeouts.heartbeatMs),
    authTimeoutMs: v(spec.timeouts.authTimeoutMs),
    upgradeTimeoutMs: v(spec.timeouts.upgradeTimeoutMs),
    drainSeconds: v(spec.edge.drainSeconds),
    drainDelayMs: v(spec.edge.drainDelayMs),
    drainRate: v(spec.edge.rollout.drainRate),
    logLevel: v(spec.edge.logLevel),
  };
  if (nats.credentialsSecret) settings.natsCreds = v(`${NATS_CREDS_DIR}/${nats.credentialsSecret.key}`);
  if (nats.nkeySecret) settings.natsNkey = v(`${NATS_NKEY_DIR}/${nats.nkeySecret.key}`);
  if (nats.userPasswordSecret) {
    const { name, usernameKey, passwordKey } = nats.userPasswordSecret;
    settings.natsUser = { secretKeyRef: { name, key: usernameKey } };
    settings.natsPassword = { secretKeyRef: { name, key: passwordKey } };
  }
  if (nats.tls?.caSecret) settings.natsTlsCa = v(`${NATS_CA_DIR}/${nats.tls.caSecret.key}`);
  if (nats.tls?.clientCertSecret) {
    settings.natsTlsCert = v(`${NATS_CLIENT_DIR}/tls.crt`);
    settings.natsTlsKey = v(`${NATS_CLIENT_DIR}/tls.key`);
  }
  if (nats.jetstreamDomain) settings.jetstreamDomain = v(nats.jetstreamDomain);
  if (spec.auth.jwtSecret) settings.jwtSecret = { secretKeyRef: spec.auth.jwtSecret };
  if (spec.auth.jwtPublicKey) settings.jwtPublicKey = v(spec.auth.jwtPublicKey);
  if (spec.auth.jwksUrl) settings.jwksUrl = v(spec.auth.jwksUrl);
  if (spec.auth.jwtIssuer) settings.jwtIssuer = v(spec.auth.jwtIssuer);
  if (spec.auth.jwtAudience) settings.jwtAudience = v(spec.auth.jwtAudience);
  if (spec.auth.allowedOrigins) settings.allowedOrigins = v(spec.auth.allowedOrigins.join(","));
  if (spec.auth.apiKeysSecret) settings.apiKeys = { secretKeyRef: spec.auth.apiKeysSecret };
  // Variables without a field of their own (spec.edge.settings), as given.
  const extra = specSettings(spec);
  for (const key of SETTINGS_VARIABLES) {
    const value = extra[key];
    if (value === undefined) continue;
    if (typeof value === "object" && !Array.isArray(value))
      settings[key] = { secretKeyRef: value as SecretKeyRef };
    else settings[key] = v(Array.isArray(value) ? value.join(",") : (value as string | number | boolean));
  }
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
  const settings = edgeVariables(ns, spec);
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

/** The pod securityContext: non-root and RuntimeDefault seccomp, with no fixed user (OpenShift's restricted SCC assigns one). */
const POD_SECURITY_CONTEXT = { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } };
const CONTAINER_SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

/** Extra volumes and mounts: each NATS Secret the edges read as a file. */
function natsFiles(spec: NotificationServiceSpec): { volumes: unknown[]; mounts: unknown[] } {
  const volumes: unknown[] = [];
  const mounts: unknown[] = [];
  const add = (name: string, secretName: string, keys: string[], mountPath: string) => {
    volumes.push({ name, secret: { secretName, items: keys.map((key) => ({ key, path: key })) } });
    mounts.push({ name, mountPath, readOnly: true });
  };
  const nats = spec.nats;
  if (nats.credentialsSecret)
    add("nats-creds", nats.credentialsSecret.name, [nats.credentialsSecret.key], NATS_CREDS_DIR);
  if (nats.nkeySecret) add("nats-nkey", nats.nkeySecret.name, [nats.nkeySecret.key], NATS_NKEY_DIR);
  if (nats.tls?.caSecret) add("nats-ca", nats.tls.caSecret.name, [nats.tls.caSecret.key], NATS_CA_DIR);
  if (nats.tls?.clientCertSecret)
    add("nats-client-cert", nats.tls.clientCertSecret.name, ["tls.crt", "tls.key"], NATS_CLIENT_DIR);
  return { volumes, mounts };
}

/** A Deployment's maxSurge: a number, or a percentage string. */
function intOrString(value: number | string): number | string {
  return typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
}

export function renderDeployment(
  ns: NotificationService,
  spec: NotificationServiceSpec,
  secrets: SecretContents = new Map(),
  options: RenderOptions = DEFAULT_RENDER_OPTIONS,
): Manifest {
  const { configData, secretEnv } = edgeEnvironment(ns, spec);
  const files = natsFiles(spec);
  const volumes: unknown[] = [{ name: "tmp", emptyDir: {} }, ...files.volumes];
  const mounts: unknown[] = [{ name: "tmp", mountPath: "/tmp" }, ...files.mounts];
  const selector = selectorLabels(ns);
  const pod = spec.edge.podTemplate;
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: "http" },
    periodSeconds,
    failureThreshold,
    timeoutSeconds: 2,
  });
  const defaultSpread = ["topology.kubernetes.io/zone", "kubernetes.io/hostname"].map((topologyKey) => ({
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable: "ScheduleAnyway",
    labelSelector: { matchLabels: selector },
  }));
  const spread = pod.topologySpreadConstraints?.map((constraint) => ({
    labelSelector: { matchLabels: selector },
    ...constraint,
  }));
  const resources = {
    requests: { ...spec.edge.resources.requests, ...pod.resources?.requests },
    limits: { ...spec.edge.resources.limits, ...pod.resources?.limits },
  };
  const image = edgeImage(spec, options);
  const podSpec: Record<string, unknown> = {
    // The drain window (drainSeconds) after the preStop delay and drainDelayMs; leave room to finish.
    terminationGracePeriodSeconds:
      PRESTOP_SECONDS + Math.ceil(spec.edge.drainDelayMs / 1000) + spec.edge.drainSeconds + 15,
    securityContext: { ...POD_SECURITY_CONTEXT, ...pod.securityContext },
    topologySpreadConstraints: spread ?? defaultSpread,
    ...(pod.nodeSelector ? { nodeSelector: pod.nodeSelector } : {}),
    ...(pod.tolerations ? { tolerations: pod.tolerations } : {}),
    ...(pod.affinity ? { affinity: pod.affinity } : {}),
    ...(pod.priorityClassName ? { priorityClassName: pod.priorityClassName } : {}),
    ...(pod.imagePullSecrets ? { imagePullSecrets: pod.imagePullSecrets } : {}),
    ...(pod.serviceAccountName ? { serviceAccountName: pod.serviceAccountName } : {}),
    // The edges never call the Kubernetes API.
    automountServiceAccountToken: false,
    // No HERALD_<SERVICE>_* variables for the namespace's Services (service links): the edge
    // stops on HERALD_* names it does not know.
    enableServiceLinks: false,
    volumes,
    containers: [
      {
        name: "edge",
        image,
        ...(spec.edge.imagePullPolicy ? { imagePullPolicy: spec.edge.imagePullPolicy } : {}),
        ports: [
          { name: "http", containerPort: EDGE_PORT, protocol: "TCP" },
          { name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" },
        ],
        envFrom: [{ configMapRef: { name: names(ns).edge } }],
        env: [...secretEnv, ...(pod.env ?? [])],
        readinessProbe: probe("/readyz", 5, 2),
        livenessProbe: probe("/healthz", 10, 3),
        lifecycle: { preStop: { exec: { command: ["sleep", String(PRESTOP_SECONDS)] } } },
        resources,
        securityContext: { ...CONTAINER_SECURITY_CONTEXT, ...pod.containerSecurityContext },
        volumeMounts: mounts,
      },
    ],
  };
  const deploymentSpec: Record<string, unknown> = {
    selector: { matchLabels: selector },
    // Never fewer serving pods than wanted: new ones surge in, old ones drain their connections.
    strategy: {
      type: "RollingUpdate",
      rollingUpdate: { maxUnavailable: 0, maxSurge: intOrString(spec.edge.rollout.maxSurge) },
    },
    minReadySeconds: spec.edge.rollout.minReadySeconds,
    template: {
      metadata: {
        labels: { ...pod.labels, ...labels(ns) },
        // A changed configuration must roll the pods: the edge reads its environment only at start.
        annotations: {
          ...pod.annotations,
          "herald.dev/config-hash": hashOf({ configData, secretEnv }),
          // Sorted so that the order Secrets are read in never rolls the pods; missing keys hash as null.
          ...(secrets.size > 0
            ? { "herald.dev/secrets-hash": hashOf([...secrets].sort(([a], [b]) => a.localeCompare(b))) }
            : {}),
        },
      },
      spec: podSpec,
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

export function renderService(ns: NotificationService, spec: NotificationServiceSpec): Manifest {
  const service = spec.service;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(ns, names(ns).service, service.annotations),
    spec: {
      type: service.type,
      selector: selectorLabels(ns),
      ports: [{ name: "http", port: EDGE_PORT, targetPort: "http", protocol: "TCP" }],
      ...(service.loadBalancerClass ? { loadBalancerClass: service.loadBalancerClass } : {}),
      ...(service.loadBalancerSourceRanges
        ? { loadBalancerSourceRanges: service.loadBalancerSourceRanges }
        : {}),
      ...(service.externalTrafficPolicy ? { externalTrafficPolicy: service.externalTrafficPolicy } : {}),
      ...(service.ipFamilyPolicy ? { ipFamilyPolicy: service.ipFamilyPolicy } : {}),
    },
  };
}

export function renderPodDisruptionBudget(ns: NotificationService): Manifest {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: metadata(ns, names(ns).edge),
    spec: {
      // One pod at a time: its clients reconnect to the others, which must not all drain at once.
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(ns) },
      // Unready pods (NATS down: every edge is unready by design) may always be evicted, so that an
      // outage never blocks node drains; only serving pods are protected.
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    },
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
      behavior: { scaleDown: SCALE_DOWN },
    },
  };
}

/** Scale down slowly: every removed pod makes its clients reconnect. */
const SCALE_DOWN = {
  stabilizationWindowSeconds: 300,
  policies: [{ type: "Pods", value: 1, periodSeconds: 60 }],
};

/** The HPA that scales the edges: the operator's, or the one KEDA creates for the ScaledObject. */
export function hpaName(ns: NotificationService, spec: NotificationServiceSpec): string {
  return spec.edge.autoscaling.provider === "keda" ? `keda-hpa-${names(ns).edge}` : names(ns).edge;
}

/**
 * provider keda: KEDA scales the edge Deployment (whose replicas the operator leaves alone while
 * autoscaling is on) on connections per pod from Prometheus, and on CPU.
 */
export function renderScaledObject(ns: NotificationService, spec: NotificationServiceSpec): Manifest {
  const scaling = spec.edge.autoscaling;
  const keda = scaling.keda!;
  const query =
    keda.query ??
    `sum(herald_connections{namespace="${ns.metadata.namespace}",notificationservice="${ns.metadata.name}"})`;
  const triggers: unknown[] = [];
  if (scaling.targetConnectionsPerPod !== undefined)
    triggers.push({
      type: "prometheus",
      metricType: "AverageValue",
      metadata: {
        serverAddress: keda.prometheusAddress,
        query,
        threshold: String(scaling.targetConnectionsPerPod),
      },
    });
  triggers.push({ type: "cpu", metricType: "Utilization", metadata: { value: String(scaling.targetCPU) } });
  return {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: metadata(ns, names(ns).edge),
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: names(ns).edge },
      minReplicaCount: scaling.min,
      maxReplicaCount: scaling.max,
      pollingInterval: keda.pollingIntervalSeconds,
      advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: SCALE_DOWN } } },
      triggers,
    },
  };
}

/** Scrapes the edges' internal port; every series gets notificationservice=<name>. */
export function renderPodMonitor(ns: NotificationService, spec: NotificationServiceSpec): Manifest {
  const podMonitor = spec.monitoring.podMonitor;
  const meta = metadata(ns, names(ns).edge);
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PodMonitor",
    metadata: { ...meta, labels: { ...podMonitor.labels, ...meta.labels } },
    spec: {
      selector: { matchLabels: selectorLabels(ns) },
      podMetricsEndpoints: [
        {
          port: "metrics",
          path: "/metrics",
          interval: podMonitor.interval,
          relabelings: [
            {
              sourceLabels: ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"],
              targetLabel: "notificationservice",
            },
          ],
        },
      ],
    },
  };
}

/** ingress-nginx's proxy timeouts are 60 s: WebSockets live for hours. Set only for nginx (or no class). */
const NGINX_WEBSOCKET_ANNOTATIONS = {
  "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
  "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
  "nginx.ingress.kubernetes.io/proxy-http-version": "1.1",
};

export function renderIngress(ns: NotificationService, spec: NotificationServiceSpec): Manifest | undefined {
  const ingress = spec.ingress;
  if (!ingress) return undefined;
  const nginx = ingress.className === undefined || ingress.className.includes("nginx");
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: metadata(ns, names(ns).ingress, {
      ...(nginx ? NGINX_WEBSOCKET_ANNOTATIONS : {}),
      ...ingress.annotations,
    }),
    spec: {
      ...(ingress.className ? { ingressClassName: ingress.className } : {}),
      ...(ingress.tlsSecret ? { tls: [{ hosts: [ingress.host], secretName: ingress.tlsSecret }] } : {}),
      rules: [
        {
          host: ingress.host,
          http: {
            paths: ingress.paths.map(({ path, pathType }) => ({
              path,
              pathType,
              backend: { service: { name: names(ns).service, port: { name: "http" } } },
            })),
          },
        },
      ],
    },
  };
}

/** A Gateway API HTTPRoute to the Service (the alternative to an Ingress). */
export function renderHTTPRoute(
  ns: NotificationService,
  spec: NotificationServiceSpec,
): Manifest | undefined {
  const gateway = spec.gateway;
  if (!gateway) return undefined;
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: metadata(ns, names(ns).route, gateway.annotations),
    spec: {
      parentRefs: gateway.parentRefs.map((ref) => ({
        group: "gateway.networking.k8s.io",
        kind: "Gateway",
        ...ref,
      })),
      ...(gateway.hostnames ? { hostnames: gateway.hostnames } : {}),
      rules: [
        {
          matches:
            gateway.pathPrefix === undefined
              ? CLIENT_PATHS.map(({ path, pathType }) => ({
                  path: { type: pathType === "Exact" ? "Exact" : "PathPrefix", value: path },
                }))
              : [{ path: { type: "PathPrefix", value: gateway.pathPrefix } }],
          backendRefs: [{ group: "", kind: "Service", name: names(ns).service, port: EDGE_PORT, weight: 1 }],
          ...(gateway.requestTimeout ? { timeouts: { request: gateway.requestTimeout } } : {}),
        },
      ],
    },
  };
}

export function endpoint(ns: NotificationService, spec: NotificationServiceSpec): string {
  if (spec.ingress) return `${spec.ingress.tlsSecret ? "wss" : "ws"}://${spec.ingress.host}/v1/ws`;
  const host = spec.gateway?.hostnames?.[0];
  if (spec.gateway && host) return `${spec.gateway.tls ? "wss" : "ws"}://${host}/v1/ws`;
  return `ws://${names(ns).service}.${ns.metadata.namespace}.svc:${EDGE_PORT}/v1/ws`;
}

/** Every object the operator owns for this resource, in the order they are applied. */
export function renderAll(
  ns: NotificationService,
  spec: NotificationServiceSpec,
  secrets: SecretContents = new Map(),
  options: RenderOptions = DEFAULT_RENDER_OPTIONS,
): Manifest[] {
  const manifests = [
    renderConfigMap(ns, spec),
    renderDeployment(ns, spec, secrets, options),
    renderService(ns, spec),
    renderPodDisruptionBudget(ns),
  ];
  const scaling = spec.edge.autoscaling;
  if (scaling.enabled && scaling.provider === "hpa") manifests.push(renderHorizontalPodAutoscaler(ns, spec));
  if (scaling.enabled && scaling.provider === "keda") manifests.push(renderScaledObject(ns, spec));
  if (spec.monitoring.podMonitor.enabled) manifests.push(renderPodMonitor(ns, spec));
  const ingress = renderIngress(ns, spec);
  if (ingress) manifests.push(ingress);
  const route = renderHTTPRoute(ns, spec);
  if (route) manifests.push(route);
  return manifests;
}

/**
 * Kinds the operator may own, so that an object no longer rendered (HPA, Ingress, HTTPRoute) is
 * removed. `optional`: an API a cluster may not serve (Gateway API CRDs); watched only when served.
 */
export const OWNED_KINDS = [
  { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps" },
  { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments" },
  { apiVersion: "v1", kind: "Service", plural: "services" },
  { apiVersion: "policy/v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets" },
  { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", plural: "horizontalpodautoscalers" },
  { apiVersion: "networking.k8s.io/v1", kind: "Ingress", plural: "ingresses" },
  { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", plural: "httproutes", optional: true },
  { apiVersion: "monitoring.coreos.com/v1", kind: "PodMonitor", plural: "podmonitors", optional: true },
  { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", plural: "scaledobjects", optional: true },
] as const;
