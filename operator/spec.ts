// The NotificationService custom resource, defined ONCE. The CRD's OpenAPI schema
// (crds/ and the chart's copy) is generated from these TypeBox schemas by generate-crd.ts, and the
// operator validates and defaults every resource it reads with the same schemas.
import { Kind, Type, TypeRegistry, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { EDGE_VARIABLES, type VariableSpec } from "../shared/config.js";

export const GROUP = "herald.dev";
export const VERSION = "v1alpha1";
export const KIND = "NotificationService";
export const PLURAL = "notificationservices";
export const API_VERSION = `${GROUP}/${VERSION}`;

// A string enum as a plain `{type: string, enum}` (structural schemas do not allow anyOf/const),
// registered so that TypeBox's Value functions can check it too.
TypeRegistry.Set<{ enum: string[] }>(
  "StringEnum",
  (schema, value) => typeof value === "string" && schema.enum.includes(value),
);
function StringEnum<const T extends readonly string[]>(
  values: T,
  options: { default?: T[number]; description: string },
) {
  return Type.Unsafe<T[number]>({ [Kind]: "StringEnum", type: "string", enum: [...values], ...options });
}

/** An object whose fields are not pruned (a Kubernetes type the operator passes through as given). */
TypeRegistry.Set(
  "PreserveUnknown",
  (_schema, value) => typeof value === "object" && value !== null && !Array.isArray(value),
);
function PreserveUnknown(description: string) {
  return Type.Unsafe<Record<string, unknown>>({
    [Kind]: "PreserveUnknown",
    type: "object",
    "x-kubernetes-preserve-unknown-fields": true,
    description,
  });
}

/** A map of strings as structural schemas allow it (`additionalProperties`, not `patternProperties`). */
TypeRegistry.Set(
  "StringMap",
  (_schema, value) =>
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === "string"),
);
function StringMap(description: string, options: Record<string, unknown> = {}) {
  return Type.Unsafe<Record<string, string>>({
    [Kind]: "StringMap",
    type: "object",
    additionalProperties: { type: "string" },
    description,
    ...options,
  });
}

/** An integer or a string (Kubernetes' IntOrString: quantities, maxSurge). */
TypeRegistry.Set("IntOrString", (_schema, value) => typeof value === "string" || Number.isInteger(value));
function IntOrString(description: string, options: Record<string, unknown> = {}) {
  return Type.Unsafe<number | string>({
    [Kind]: "IntOrString",
    "x-kubernetes-int-or-string": true,
    anyOf: [{ type: "integer" }, { type: "string" }],
    description,
    ...options,
  });
}

/** A map of resource quantities (cpu, memory, ephemeral-storage, …). */
TypeRegistry.Set(
  "QuantityMap",
  (_schema, value) =>
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === "string" || Number.isInteger(v)),
);
function QuantityMap(description: string) {
  return Type.Unsafe<Record<string, string | number>>({
    [Kind]: "QuantityMap",
    type: "object",
    additionalProperties: {
      "x-kubernetes-int-or-string": true,
      anyOf: [{ type: "integer" }, { type: "string" }],
    },
    description,
  });
}

type EdgeVariables = typeof EDGE_VARIABLES;
type IntegerSetting = {
  [K in keyof EdgeVariables]: EdgeVariables[K] extends { kind: "integer" } ? K : never;
}[keyof EdgeVariables];

/**
 * A spec field that the edge receives as one of its own variables: range, default and meaning
 * come from the edge's variable list, so the CRD accepts exactly what the edge accepts.
 */
function EdgeInteger(key: IntegerSetting, override: { default?: number; description?: string } = {}) {
  const variable = EDGE_VARIABLES[key];
  return Type.Integer({
    minimum: variable.min,
    maximum: variable.max,
    default: override.default ?? Number(variable.default),
    description: override.description ?? variable.doc,
  });
}

/** A duration such as 90s, 15m, 24h or 7d. */
const DURATION_PATTERN = "^[1-9][0-9]{0,8}(s|m|h|d)$";
const Duration = (description: string, defaultValue: string) =>
  Type.String({ pattern: DURATION_PATTERN, default: defaultValue, description });

/** A Kubernetes resource quantity written as a string (e.g. 250m, 512Mi). */
const Quantity = (description: string, defaultValue: string) =>
  Type.String({
    pattern: "^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$",
    default: defaultValue,
    description,
  });

const SecretKeyRef = (description: string) =>
  Type.Object(
    {
      name: Type.String({ minLength: 1, maxLength: 253, description: "Secret name (same namespace)." }),
      key: Type.String({ minLength: 1, maxLength: 253, description: "Key inside the Secret." }),
    },
    { description },
  );

const TOKEN_PATTERN = "^[A-Za-z0-9_-]{1,64}$";

/** A Secret (same namespace) and one of its keys, with a default key name. */
const SecretKeyRefWithDefault = (description: string, defaultKey: string) =>
  Type.Object(
    {
      name: Type.String({ minLength: 1, maxLength: 253, description: "Secret name (same namespace)." }),
      key: Type.String({
        minLength: 1,
        maxLength: 253,
        default: defaultKey,
        description: "Key inside the Secret.",
      }),
    },
    { description },
  );

export const NatsSpec = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      description:
        "NATS server URLs, comma-separated (e.g. nats://nats.nats:4222; tls://… when the servers require TLS).",
    }),
    credentialsSecret: Type.Optional(
      SecretKeyRef(
        "Secret holding a NATS .creds file (JWT + nkey), mounted into the edges and used by the operator.",
      ),
    ),
    nkeySecret: Type.Optional(
      SecretKeyRef("Secret holding an nkey seed (SU…), mounted into the edges and used by the operator."),
    ),
    userPasswordSecret: Type.Optional(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 253, description: "Secret name (same namespace)." }),
          usernameKey: Type.String({
            minLength: 1,
            default: "username",
            description: "Key of the user name.",
          }),
          passwordKey: Type.String({
            minLength: 1,
            default: "password",
            description: "Key of the password.",
          }),
        },
        { description: "Secret holding a NATS user name and password." },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          caSecret: Type.Optional(
            SecretKeyRefWithDefault(
              "Secret with the CA certificate(s) that signed the NATS servers' certificates.",
              "ca.crt",
            ),
          ),
          clientCertSecret: Type.Optional(
            Type.Object(
              {
                name: Type.String({
                  minLength: 1,
                  maxLength: 253,
                  description: "Secret name (same namespace).",
                }),
              },
              {
                description:
                  "kubernetes.io/tls Secret (tls.crt, tls.key) with a client certificate, for servers that verify clients.",
              },
            ),
          ),
        },
        {
          description:
            "TLS to NATS: the CA to verify the servers with and an optional client certificate (mounted into the edges, read by the operator).",
        },
      ),
    ),
    jetstreamDomain: Type.Optional(
      Type.String({
        pattern: TOKEN_PATTERN,
        maxLength: 64,
        description: "JetStream domain (leaf-node or hub deployments).",
      }),
    ),
    headCheckSeconds: EdgeInteger("headCheckSeconds"),
  },
  {
    description: "Where the NATS JetStream cluster is, and how to authenticate to it.",
    "x-kubernetes-validations": [
      {
        rule: "[has(self.credentialsSecret), has(self.nkeySecret), has(self.userPasswordSecret)].filter(x, x).size() <= 1",
        message: "set at most one of credentialsSecret, nkeySecret and userPasswordSecret",
      },
    ],
  },
);

export const StreamSpec = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        pattern: TOKEN_PATTERN,
        maxLength: 64,
        description:
          "Stream name. Default: herald_NAMESPACE_NAME (shortened with a hash beyond 64 characters). Cannot be changed.",
      }),
    ),
    subjectPrefix: Type.Optional(
      Type.String({
        pattern: TOKEN_PATTERN,
        maxLength: 64,
        description: "Subject prefix. Default: the stream name. Cannot be changed.",
      }),
    ),
    replicas: EdgeInteger("streamReplicas", {
      default: 3,
      description: "JetStream replicas of the stream (3 for a production cluster).",
    }),
    maxAge: Duration("Messages older than this are removed.", "24h"),
    maxMsgsPerTopic: EdgeInteger("maxMsgsPerTopic"),
    maxBytes: EdgeInteger("maxBytes"),
    duplicateWindow: Duration("Window in which a repeated msgId is a duplicate.", "2m"),
    storage: StringEnum(["file", "memory"] as const, {
      default: "file",
      description: "Storage type. Cannot be changed once the stream exists.",
    }),
    deletePolicy: StringEnum(["Retain", "Delete"] as const, {
      default: "Retain",
      description: "What happens to the stream when the NotificationService is deleted.",
    }),
  },
  {
    default: {},
    description: "The JetStream stream holding the messages.",
    // Refused by the API server at `kubectl apply` (transition rules: checked on updates only); the
    // operator refuses them too, from the stream's own configuration, on servers without CEL.
    "x-kubernetes-validations": [
      {
        rule: "self.storage == oldSelf.storage",
        message:
          "stream.storage cannot be changed once the stream exists (JetStream cannot convert a stream; create a new NotificationService)",
      },
      {
        rule: "has(self.name) == has(oldSelf.name) && (!has(self.name) || self.name == oldSelf.name)",
        message:
          "stream.name cannot be changed: the edges would move to another stream and lose the history (create a new NotificationService)",
      },
      {
        rule: "has(self.subjectPrefix) == has(oldSelf.subjectPrefix) && (!has(self.subjectPrefix) || self.subjectPrefix == oldSelf.subjectPrefix)",
        message: "stream.subjectPrefix cannot be changed: the stored messages live under the old subjects",
      },
    ],
  },
);

export const AutoscalingSpec = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description: "Create a HorizontalPodAutoscaler; it then owns the replica count.",
    }),
    min: Type.Integer({ minimum: 1, maximum: 1000, default: 2, description: "Fewest edge pods." }),
    max: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: "Most edge pods." }),
    targetConnectionsPerPod: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000_000,
        description:
          "Average WebSocket connections per pod (Pods metric herald_connections; needs a custom-metrics adapter).",
      }),
    ),
    targetCPU: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 70,
      description: "Average CPU utilisation in percent.",
    }),
    provider: StringEnum(["hpa", "keda"] as const, {
      default: "hpa",
      description:
        "hpa: a HorizontalPodAutoscaler (the Pods metric herald_connections needs prometheus-adapter); keda: a KEDA ScaledObject with a Prometheus trigger on connections per pod and CPU (docs/operations.md).",
    }),
    keda: Type.Optional(
      Type.Object(
        {
          prometheusAddress: Type.String({
            pattern: "^https?://",
            description: "The Prometheus KEDA asks, e.g. http://prometheus.monitoring.svc:9090.",
          }),
          query: Type.Optional(
            Type.String({
              minLength: 1,
              description:
                'PromQL for the connections of all edges. Default: sum(herald_connections{namespace="<ns>",notificationservice="<name>"}) (the labels the PodMonitor adds).',
            }),
          ),
          pollingIntervalSeconds: Type.Integer({
            minimum: 1,
            maximum: 3600,
            default: 30,
            description: "How often KEDA asks Prometheus.",
          }),
        },
        { description: "KEDA's Prometheus trigger (provider keda)." },
      ),
    ),
  },
  {
    default: {},
    description: "Horizontal autoscaling of the edges.",
    // Enforced by a real API server (CEL); the operator checks it too (parseSpec) for older CRDs.
    "x-kubernetes-validations": [
      { rule: "self.min <= self.max", message: "min must not exceed max" },
      {
        rule: "self.provider != 'keda' || has(self.keda)",
        message: "provider keda needs keda.prometheusAddress",
      },
    ],
  },
);

export const MonitoringSpec = Type.Object(
  {
    podMonitor: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description:
            "Create a PodMonitor (Prometheus Operator) that scrapes the edges' /metrics on their internal port and labels every series notificationservice=<name>.",
        }),
        interval: Type.String({
          pattern: "^[0-9]+(ms|s|m|h)$",
          default: "30s",
          description: "Scrape interval.",
        }),
        labels: Type.Optional(
          StringMap("Labels on the PodMonitor, for your Prometheus's podMonitorSelector."),
        ),
      },
      { default: {}, description: "Scraping the edges." },
    ),
  },
  { default: {}, description: "Monitoring of the edges (docs/operations.md)." },
);

/**
 * Where each edge variable comes from. Every HERALD_* variable is reachable from the spec: those
 * listed here from the named field (or set by the operator itself); any other one in the edge's
 * table, such as a variable added later, from `spec.edge.settings.<name>`, generated from the table
 * (its range and meaning included), so that the CRD never lags behind the edge.
 */
export const EDGE_VARIABLE_FIELDS = {
  port: "the operator (container port http, 8080)",
  metricsPort: "the operator (container port metrics, 9464)",
  host: "spec.edge.listenHost",
  natsUrl: "spec.nats.url",
  natsCreds: "spec.nats.credentialsSecret (mounted file)",
  natsNkey: "spec.nats.nkeySecret (mounted file)",
  natsUser: "spec.nats.userPasswordSecret.usernameKey",
  natsPassword: "spec.nats.userPasswordSecret.passwordKey",
  natsTlsCa: "spec.nats.tls.caSecret (mounted file)",
  natsTlsCert: "spec.nats.tls.clientCertSecret tls.crt (mounted file)",
  natsTlsKey: "spec.nats.tls.clientCertSecret tls.key (mounted file)",
  jetstreamDomain: "spec.nats.jetstreamDomain",
  headCheckSeconds: "spec.nats.headCheckSeconds",
  stream: "spec.stream.name",
  subjectPrefix: "spec.stream.subjectPrefix",
  streamReplicas: "spec.stream.replicas",
  streamStorage: "spec.stream.storage",
  maxAgeSeconds: "spec.stream.maxAge",
  maxMsgsPerTopic: "spec.stream.maxMsgsPerTopic",
  maxBytes: "spec.stream.maxBytes",
  duplicateWindowSeconds: "spec.stream.duplicateWindow",
  jwtSecret: "spec.auth.jwtSecret",
  jwtPublicKey: "spec.auth.jwtPublicKey",
  jwksUrl: "spec.auth.jwksUrl",
  jwtIssuer: "spec.auth.jwtIssuer",
  jwtAudience: "spec.auth.jwtAudience",
  apiKeys: "spec.auth.apiKeysSecret",
  allowAnonymous: "spec.auth.allowAnonymous",
  anonymousPublish: "spec.auth.anonymousPublish",
  allowedOrigins: "spec.auth.allowedOrigins",
  maxFrameBytes: "spec.limits.maxFrameBytes",
  maxSubscriptions: "spec.limits.maxSubscriptions",
  sendBufferBytes: "spec.limits.sendBufferBytes",
  cachePerTopic: "spec.limits.cachePerTopic",
  framesPerSecond: "spec.limits.framesPerSecond",
  publishesPerSecond: "spec.limits.publishesPerSecond",
  maxConnections: "spec.limits.maxConnections",
  maxPendingUpgrades: "spec.limits.maxPendingUpgrades",
  historyLimit: "spec.limits.historyLimit",
  upgradeTimeoutMs: "spec.timeouts.upgradeTimeoutMs",
  authTimeoutMs: "spec.timeouts.authTimeoutMs",
  heartbeatMs: "spec.timeouts.heartbeatMs",
  drainSeconds: "spec.edge.drainSeconds",
  drainDelayMs: "spec.edge.drainDelayMs",
  drainRate: "spec.edge.rollout.drainRate",
  logLevel: "spec.edge.logLevel",
  notificationService: "the operator (namespace/name of the resource)",
} as const satisfies Partial<Record<keyof EdgeVariables, string>>;

/** Edge variables without a field of their own: they are `spec.edge.settings.<key>`. */
export const SETTINGS_VARIABLES = (Object.keys(EDGE_VARIABLES) as (keyof EdgeVariables)[]).filter(
  (key) => !(key in EDGE_VARIABLE_FIELDS),
);

TypeRegistry.Set("EdgeSettings", (_schema, value) => typeof value === "object" && value !== null);

/** The JSON schema of one variable as a spec field (no default: unset leaves the edge's own). */
function variableSchema(variable: VariableSpec): Record<string, unknown> {
  const description = `${variable.env}: ${variable.doc}${variable.default === undefined ? "" : ` Edge default: ${variable.default}.`}`;
  if (variable.secret)
    return {
      type: "object",
      required: ["name", "key"],
      properties: {
        name: { type: "string", minLength: 1, maxLength: 253, description: "Secret name (same namespace)." },
        key: { type: "string", minLength: 1, maxLength: 253, description: "Key inside the Secret." },
      },
      description: `Secret key holding ${description}`,
    };
  switch (variable.kind) {
    case "integer":
      return { type: "integer", minimum: variable.min, maximum: variable.max, description };
    case "boolean":
      return { type: "boolean", description };
    case "enum":
      return { type: "string", enum: [...(variable.values ?? [])], description };
    case "list":
      return {
        type: "array",
        minItems: 1,
        items: { type: "string", minLength: 1, pattern: "^[^,]+$" },
        description,
      };
    case "string":
      return { type: "string", minLength: 1, description };
  }
}

/** `spec.edge.settings`, present when some variable has no field of its own. */
function settingsField() {
  const schema = Type.Optional(
    Type.Unsafe<Record<string, unknown>>({
      [Kind]: "EdgeSettings",
      type: "object",
      properties: Object.fromEntries(
        SETTINGS_VARIABLES.map((key) => [key, variableSchema(EDGE_VARIABLES[key] as VariableSpec)]),
      ),
      description:
        "Edge variables without a field of their own, by their name in the edge's table (shared/config.ts); unset ones keep the edge's default.",
    }),
  );
  return (SETTINGS_VARIABLES.length > 0 ? { settings: schema } : {}) as { settings: typeof schema };
}

/** The spec's `edge.settings` (empty when there is none). */
export function edgeSettings(spec: NotificationServiceSpec): Record<string, unknown> {
  return (spec.edge as { settings?: Record<string, unknown> }).settings ?? {};
}

const NAME_253 = { minLength: 1, maxLength: 253 };

export const PodTemplateSpec = Type.Object(
  {
    labels: Type.Optional(
      StringMap("Extra labels of the edge pods.", {
        maxProperties: 64,
        "x-kubernetes-validations": [
          {
            rule: "!('app.kubernetes.io/name' in self) && !('app.kubernetes.io/instance' in self)",
            message:
              "podTemplate.labels must not set app.kubernetes.io/name or app.kubernetes.io/instance (the operator's selector)",
          },
        ],
      }),
    ),
    annotations: Type.Optional(StringMap("Extra annotations of the edge pods.")),
    nodeSelector: Type.Optional(StringMap("Node labels the edge pods must run on.")),
    tolerations: Type.Optional(
      Type.Array(PreserveUnknown("A core/v1 Toleration."), {
        maxItems: 64,
        description: "Tolerations of the edge pods.",
      }),
    ),
    affinity: Type.Optional(
      PreserveUnknown("A core/v1 Affinity (node, pod and anti-affinity) of the edge pods."),
    ),
    topologySpreadConstraints: Type.Optional(
      Type.Array(
        PreserveUnknown("A core/v1 TopologySpreadConstraint; labelSelector defaults to the edge pods."),
        {
          maxItems: 16,
          description:
            "Replaces the default spread (zones, then nodes, ScheduleAnyway). An entry without labelSelector selects the edge pods.",
        },
      ),
    ),
    priorityClassName: Type.Optional(
      Type.String({ ...NAME_253, description: "PriorityClass of the edge pods." }),
    ),
    imagePullSecrets: Type.Optional(
      Type.Array(
        Type.Object(
          { name: Type.String({ ...NAME_253, description: "Secret name." }) },
          { description: "A pull Secret." },
        ),
        {
          maxItems: 16,
          description:
            "Secrets in this namespace to pull the edge image with (the chart's global.imagePullSecrets reach only the operator).",
        },
      ),
    ),
    serviceAccountName: Type.Optional(
      Type.String({
        ...NAME_253,
        description: "ServiceAccount of the edge pods (default: the namespace's default).",
      }),
    ),
    env: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 253, description: "Variable name." }),
            value: Type.Optional(Type.String({ description: "Value." })),
            valueFrom: Type.Optional(
              PreserveUnknown("A core/v1 EnvVarSource (secretKeyRef, configMapKeyRef, fieldRef, …)."),
            ),
          },
          { description: "A core/v1 EnvVar." },
        ),
        {
          maxItems: 100,
          description:
            "Extra environment variables of the edge container (e.g. NODE_OPTIONS, proxies). HERALD_* variables come from the spec fields, never from here.",
          "x-kubernetes-validations": [
            {
              rule: "self.all(e, !e.name.startsWith('HERALD_'))",
              message:
                "podTemplate.env must not set HERALD_* variables: use the NotificationService fields (they are validated)",
            },
          ],
        },
      ),
    ),
    resources: Type.Optional(
      Type.Object(
        {
          requests: Type.Optional(
            QuantityMap("Requests (cpu, memory, ephemeral-storage, …), over spec.edge.resources."),
          ),
          limits: Type.Optional(
            QuantityMap("Limits (memory, ephemeral-storage, …), over spec.edge.resources."),
          ),
        },
        {
          description:
            "Container resources merged key by key over spec.edge.resources (ephemeral-storage included).",
        },
      ),
    ),
    securityContext: Type.Optional(
      PreserveUnknown(
        "Pod securityContext fields merged over the default (runAsNonRoot, RuntimeDefault seccomp, no fixed user: OpenShift's restricted SCC assigns one). Set runAsUser/fsGroup here only when your cluster wants them.",
      ),
    ),
    containerSecurityContext: Type.Optional(
      PreserveUnknown(
        "Edge container securityContext fields merged over the default (no privilege escalation, read-only root filesystem, every capability dropped).",
      ),
    ),
  },
  { default: {}, description: "How the edge pods are scheduled and run." },
);

export const RolloutSpec = Type.Object(
  {
    maxSurge: IntOrString(
      "Extra pods during a rollout (a number or a percentage); none is ever unavailable (maxUnavailable 0).",
      {
        default: 1,
        // Bounds the CEL rule's cost estimate (a string of at most "100%").
        maxLength: 4,
        "x-kubernetes-validations": [
          {
            rule: "type(self) == int ? self >= 1 : self.matches('^([1-9][0-9]?|100)%$')",
            message: "rollout.maxSurge must be at least 1, or a percentage 1%-100%",
          },
        ],
      },
    ),
    drainRate: EdgeInteger("drainRate"),
    minReadySeconds: Type.Integer({
      minimum: 0,
      maximum: 3600,
      default: 0,
      description:
        "A new pod counts as available this long after it is ready: raise it (up to drainSeconds) to let one pod's clients settle before the next pod drains.",
    }),
  },
  {
    default: {},
    description:
      "Connection-aware rollouts: each old pod sheds its connections at drainRate per second, within drainSeconds (the window), while new pods surge in.",
  },
);

export const EdgeSpec = Type.Object(
  {
    image: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "Edge container image. Unset: the operator's default (the chart's edgeImage, which follows the operator version on helm upgrade). Set it to pin a version.",
      }),
    ),
    imagePullPolicy: Type.Optional(
      StringEnum(["Always", "IfNotPresent", "Never"] as const, {
        description: "Pull policy of the edge image.",
      }),
    ),
    replicas: Type.Integer({
      minimum: 0,
      maximum: 1000,
      default: 2,
      description: "Edge pods when autoscaling is off (scale subresource).",
    }),
    resources: Type.Object(
      {
        requests: Type.Object(
          { cpu: Quantity("CPU request.", "250m"), memory: Quantity("Memory request.", "256Mi") },
          { default: {}, description: "Resource requests of each edge container." },
        ),
        limits: Type.Object(
          { memory: Quantity("Memory limit.", "1Gi") },
          { default: {}, description: "Resource limits (memory only: a CPU limit would throttle fan-out)." },
        ),
      },
      {
        default: {},
        description: "Container resources (more, ephemeral-storage included, in podTemplate.resources).",
      },
    ),
    listenHost: Type.String({
      minLength: 1,
      default: "::",
      description:
        "Address the edge listens on (HERALD_HOST). `::` accepts IPv4 and IPv6 (dual-stack and IPv6-only clusters); 0.0.0.0 for IPv4-only nodes without IPv6.",
    }),
    drainSeconds: EdgeInteger("drainSeconds", {
      description:
        "The drain window: on SIGTERM, connections are closed in waves within this many seconds (terminationGracePeriodSeconds covers it).",
    }),
    drainDelayMs: EdgeInteger("drainDelayMs"),
    logLevel: StringEnum(EDGE_VARIABLES.logLevel.values, {
      default: EDGE_VARIABLES.logLevel.default,
      description: EDGE_VARIABLES.logLevel.doc,
    }),
    rollout: RolloutSpec,
    podTemplate: PodTemplateSpec,
    autoscaling: AutoscalingSpec,
    ...settingsField(),
  },
  { default: {}, description: "The edge pods." },
);

export const AuthSpec = Type.Object(
  {
    jwtSecret: Type.Optional(SecretKeyRef("Secret with the HS256 key (at least 32 characters).")),
    jwtPublicKey: Type.Optional(
      Type.String({ minLength: 1, description: "PEM public key (SPKI) for RS256/ES256 tokens." }),
    ),
    jwksUrl: Type.Optional(Type.String({ pattern: "^https?://", description: "JWKS URL for token keys." })),
    apiKeysSecret: Type.Optional(SecretKeyRef("Secret with comma-separated API keys for publishers.")),
    jwtIssuer: Type.Optional(Type.String({ minLength: 1, description: EDGE_VARIABLES.jwtIssuer.doc })),
    jwtAudience: Type.Optional(Type.String({ minLength: 1, description: EDGE_VARIABLES.jwtAudience.doc })),
    allowedOrigins: Type.Optional(
      Type.Array(Type.String({ minLength: 1, pattern: "^[^,]+$" }), {
        minItems: 1,
        description: "Origins allowed to open WebSockets from a browser. Unset: any origin.",
      }),
    ),
    allowAnonymous: Type.Boolean({
      default: false,
      description: "Allow connections without a token (subscribe only).",
    }),
    anonymousPublish: Type.Boolean({
      default: false,
      description: "Let anonymous connections also publish to any topic (needs allowAnonymous; demos only).",
    }),
  },
  {
    default: {},
    description: "Who may connect, subscribe and publish.",
    "x-kubernetes-validations": [
      {
        rule: "!self.anonymousPublish || self.allowAnonymous",
        message: "auth.anonymousPublish needs auth.allowAnonymous",
      },
    ],
  },
);

export const LimitsSpec = Type.Object(
  {
    maxFrameBytes: EdgeInteger("maxFrameBytes"),
    maxSubscriptions: EdgeInteger("maxSubscriptions"),
    sendBufferBytes: EdgeInteger("sendBufferBytes"),
    cachePerTopic: EdgeInteger("cachePerTopic"),
    maxConnections: EdgeInteger("maxConnections"),
    framesPerSecond: EdgeInteger("framesPerSecond"),
    publishesPerSecond: EdgeInteger("publishesPerSecond"),
    maxPendingUpgrades: EdgeInteger("maxPendingUpgrades"),
    historyLimit: EdgeInteger("historyLimit"),
  },
  {
    default: {},
    description: "Per-connection and per-edge limits.",
    "x-kubernetes-validations": [
      {
        rule: "self.sendBufferBytes >= 2 * self.maxFrameBytes",
        message:
          "limits.sendBufferBytes must be at least twice limits.maxFrameBytes (a replay fills half the buffer, a message may be a whole frame)",
      },
    ],
  },
);

export const TimeoutsSpec = Type.Object(
  {
    heartbeatMs: EdgeInteger("heartbeatMs"),
    authTimeoutMs: EdgeInteger("authTimeoutMs"),
    upgradeTimeoutMs: EdgeInteger("upgradeTimeoutMs"),
  },
  { default: {}, description: "Connection timings of the edges." },
);

export const ServiceSpec = Type.Object(
  {
    type: StringEnum(["ClusterIP", "NodePort", "LoadBalancer"] as const, {
      default: "ClusterIP",
      description: "Service type. LoadBalancer for a cloud load balancer (NLB: see annotations).",
    }),
    annotations: Type.Optional(
      StringMap(
        "Service annotations, e.g. service.beta.kubernetes.io/aws-load-balancer-type: external with …-nlb-target-type: ip.",
      ),
    ),
    loadBalancerClass: Type.Optional(
      Type.String({ ...NAME_253, description: "LoadBalancer implementation (e.g. service.k8s.aws/nlb)." }),
    ),
    loadBalancerSourceRanges: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
        maxItems: 64,
        description: "Client CIDRs the load balancer admits.",
      }),
    ),
    externalTrafficPolicy: Type.Optional(
      StringEnum(["Cluster", "Local"] as const, {
        description: "Local keeps client source addresses (NodePort/LoadBalancer).",
      }),
    ),
    ipFamilyPolicy: Type.Optional(
      StringEnum(["SingleStack", "PreferDualStack", "RequireDualStack"] as const, {
        description: "IP families of the Service (PreferDualStack on dual-stack clusters).",
      }),
    ),
  },
  {
    default: {},
    description: "The Service in front of the edges (port 8080).",
    "x-kubernetes-validations": [
      {
        rule: "self.type == 'LoadBalancer' || (!has(self.loadBalancerClass) && !has(self.loadBalancerSourceRanges))",
        message:
          "service.loadBalancerClass and service.loadBalancerSourceRanges need service.type LoadBalancer",
      },
      {
        rule: "self.type != 'ClusterIP' || !has(self.externalTrafficPolicy)",
        message: "service.externalTrafficPolicy needs service.type NodePort or LoadBalancer",
      },
    ],
  },
);

const HOSTNAME = {
  minLength: 1,
  maxLength: 253,
  pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
};

/** What clients reach on the public port; nothing else is routed by default (docs/operator.md). */
export const CLIENT_PATHS = [
  { path: "/v1", pathType: "Prefix" as const },
  { path: "/client.js", pathType: "Exact" as const },
  { path: "/readyz", pathType: "Exact" as const },
];

export const IngressSpec = Type.Object(
  {
    className: Type.Optional(Type.String({ minLength: 1, description: "IngressClass name." })),
    host: Type.String({ ...HOSTNAME, description: "Public host name." }),
    tlsSecret: Type.Optional(
      Type.String({ minLength: 1, description: "Secret with the TLS certificate for the host." }),
    ),
    annotations: Type.Optional(
      StringMap(
        "Ingress annotations (your controller's WebSocket timeouts: docs/operator.md). With className nginx or unset, ingress-nginx timeouts of one hour are set unless given here.",
      ),
    ),
    paths: Type.Array(
      Type.Object(
        {
          path: Type.String({ pattern: "^/", maxLength: 1024, description: "URL path." }),
          pathType: StringEnum(["Prefix", "Exact", "ImplementationSpecific"] as const, {
            default: "Prefix",
            description: "How the path matches.",
          }),
        },
        { description: "A path routed to the edges." },
      ),
      {
        minItems: 1,
        maxItems: 16,
        default: CLIENT_PATHS,
        description:
          "Paths routed to the edges. The default is what clients use: /v1 (the WebSocket /v1/ws, SSE /v1/sse, publish and history), /client.js (the SDK bundle) and /readyz (the SDK asks it before falling back to SSE). Add / (Exact) for the demo page when HERALD_DEMO is on.",
      },
    ),
  },
  { description: "Expose the edges through an Ingress." },
);

export const GatewaySpec = Type.Object(
  {
    parentRefs: Type.Array(
      Type.Object(
        {
          name: Type.String({ ...NAME_253, description: "Gateway name." }),
          namespace: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 63,
              description: "Gateway namespace (default: this one).",
            }),
          ),
          sectionName: Type.Optional(
            Type.String({ minLength: 1, maxLength: 253, description: "Listener name." }),
          ),
        },
        { description: "A Gateway (gateway.networking.k8s.io/v1) to attach to." },
      ),
      { minItems: 1, maxItems: 16, description: "Gateways the HTTPRoute attaches to." },
    ),
    hostnames: Type.Optional(
      Type.Array(Type.String(HOSTNAME), {
        maxItems: 16,
        description: "Host names the route answers (default: the listener's).",
      }),
    ),
    annotations: Type.Optional(StringMap("HTTPRoute annotations.")),
    pathPrefix: Type.Optional(
      Type.String({
        pattern: "^/",
        maxLength: 1024,
        description:
          "Path prefix routed to the edges. Unset: what clients use, as spec.ingress.paths by default (/v1, /client.js, /readyz).",
      }),
    ),
    requestTimeout: Type.Optional(
      Type.String({
        pattern: "^([0-9]{1,5}(h|m|s|ms)){1,4}$",
        description:
          "HTTPRoute rules[].timeouts.request (Gateway API 1.1+; 0s = none where the implementation allows). WebSockets outlive most defaults: docs/operator.md lists them per controller.",
      }),
    ),
    tls: Type.Boolean({
      default: true,
      description: "The listener terminates TLS (status.endpoint is then wss://).",
    }),
  },
  { description: "Expose the edges through a Gateway API HTTPRoute (an alternative to spec.ingress)." },
);

export const NotificationServiceSpec = Type.Object({
  nats: NatsSpec,
  stream: StreamSpec,
  edge: EdgeSpec,
  auth: AuthSpec,
  limits: LimitsSpec,
  timeouts: TimeoutsSpec,
  service: ServiceSpec,
  ingress: Type.Optional(IngressSpec),
  gateway: Type.Optional(GatewaySpec),
  monitoring: MonitoringSpec,
});
export type NotificationServiceSpec = Static<typeof NotificationServiceSpec>;

export type SecretKeyRef = Static<ReturnType<typeof SecretKeyRef>>;

/** Every Secret key a resource's edges use (the operator reads the NATS ones too). */
export function secretRefs(spec: NotificationServiceSpec): SecretKeyRef[] {
  const nats = spec.nats;
  const refs: (SecretKeyRef | undefined)[] = [
    nats.credentialsSecret,
    nats.nkeySecret,
    nats.userPasswordSecret && {
      name: nats.userPasswordSecret.name,
      key: nats.userPasswordSecret.usernameKey,
    },
    nats.userPasswordSecret && {
      name: nats.userPasswordSecret.name,
      key: nats.userPasswordSecret.passwordKey,
    },
    nats.tls?.caSecret,
    nats.tls?.clientCertSecret && { name: nats.tls.clientCertSecret.name, key: "tls.crt" },
    nats.tls?.clientCertSecret && { name: nats.tls.clientCertSecret.name, key: "tls.key" },
    spec.auth.jwtSecret,
    spec.auth.apiKeysSecret,
    ...Object.values(edgeSettings(spec)).filter((value): value is SecretKeyRef => typeof value === "object"),
  ];
  return refs.filter((ref) => ref !== undefined);
}

export const CONDITION_TYPES = ["Ready", "StreamReady", "EdgeAvailable", "Autoscaling"] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export const Condition = Type.Object({
  type: Type.String({ description: "Ready, StreamReady, EdgeAvailable or Autoscaling." }),
  status: StringEnum(["True", "False", "Unknown"] as const, { description: "Condition status." }),
  reason: Type.String({ description: "CamelCase reason." }),
  message: Type.String({ description: "Human-readable detail." }),
  lastTransitionTime: Type.String({ format: "date-time", description: "When the status last changed." }),
  observedGeneration: Type.Integer({ minimum: 0, description: "The generation this condition describes." }),
});
export type Condition = Static<typeof Condition>;

export const NotificationServiceStatus = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ minimum: 0, description: "Last generation reconciled." }),
    ),
    conditions: Type.Optional(
      Type.Array(Condition, {
        description: "Ready, StreamReady, EdgeAvailable, and Autoscaling while autoscaling is on.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
      }),
    ),
    replicas: Type.Optional(Type.Integer({ minimum: 0, description: "Edge pods (scale subresource)." })),
    readyReplicas: Type.Optional(Type.Integer({ minimum: 0, description: "Edge pods ready." })),
    selector: Type.Optional(
      Type.String({ description: "Label selector of the edge pods (scale subresource)." }),
    ),
    endpoint: Type.Optional(Type.String({ description: "WebSocket URL clients connect to." })),
    autoscaling: Type.Optional(
      Type.Object(
        {
          desiredReplicas: Type.Integer({ minimum: 0, description: "Edge pods the HPA wants." }),
          currentReplicas: Type.Integer({ minimum: 0, description: "Edge pods the HPA counts now." }),
        },
        { description: "The edges' HPA (the operator's, or KEDA's), while autoscaling is on." },
      ),
    ),
    stream: Type.Optional(Type.String({ description: "JetStream stream name." })),
    epoch: Type.Optional(
      Type.String({ description: "Identity of the stream's history; changes when it is re-created." }),
    ),
    edgeImage: Type.Optional(
      Type.String({
        description:
          "The edge image the pods run once rolled out (spec.edge.image, or the operator's default).",
      }),
    ),
    edgeVersion: Type.Optional(
      Type.String({
        description: "That image's version (its tag, or digest); see EdgeAvailable for the rollout.",
      }),
    ),
  },
  { description: "Observed state, written by the operator." },
);
export type NotificationServiceStatus = Static<typeof NotificationServiceStatus>;

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
}

export interface NotificationService {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: NotificationServiceSpec;
  status?: NotificationServiceStatus;
}

export class SpecError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
    this.name = "SpecError";
  }
}

/**
 * Applies the schema's defaults and validates a spec read from the API server. The API server
 * validates too, but the operator must never act on a spec that slipped past (old CRD, fake server).
 */
export function parseSpec(raw: unknown): NotificationServiceSpec {
  const withDefaults = Value.Default(NotificationServiceSpec, structuredClone(raw ?? {}));
  const problems = [...Value.Errors(NotificationServiceSpec, withDefaults)].map(
    (e) => `spec${e.path.replaceAll("/", ".")}: ${e.message}`,
  );
  if (problems.length > 0) throw new SpecError(problems);
  const spec = withDefaults as NotificationServiceSpec;
  const { min, max } = spec.edge.autoscaling;
  if (min > max) throw new SpecError([`spec.edge.autoscaling: min (${min}) must not exceed max (${max})`]);
  if (spec.edge.autoscaling.provider === "keda" && !spec.edge.autoscaling.keda)
    throw new SpecError(["spec.edge.autoscaling: provider keda needs keda.prometheusAddress"]);
  return spec;
}

/** Seconds in a Duration string. */
export function durationSeconds(duration: string): number {
  const match = new RegExp(DURATION_PATTERN).exec(duration);
  if (!match) throw new SpecError([`invalid duration ${JSON.stringify(duration)}`]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[match[1] as "s" | "m" | "h" | "d"];
  return Number.parseInt(duration, 10) * unit;
}
