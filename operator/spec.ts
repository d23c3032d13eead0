// The NotificationService custom resource, defined ONCE. The CRD's OpenAPI schema
// (crds/ and the chart's copy) is generated from these TypeBox schemas by generate-crd.ts, and the
// operator validates and defaults every resource it reads with the same schemas.
import { Kind, Type, TypeRegistry, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { EDGE_VARIABLES } from "../shared/config.js";

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

export const NatsSpec = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      description: "NATS server URLs, comma-separated (e.g. nats://nats.nats:4222).",
    }),
    credentialsSecret: Type.Optional(
      SecretKeyRef("Secret holding a NATS .creds file, mounted into the edges and used by the operator."),
    ),
  },
  { description: "Where the NATS JetStream cluster is." },
);

export const StreamSpec = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        pattern: TOKEN_PATTERN,
        description:
          "Stream name. Default: herald_NAMESPACE_NAME (shortened with a hash beyond 64 characters).",
      }),
    ),
    subjectPrefix: Type.Optional(
      Type.String({ pattern: TOKEN_PATTERN, description: "Subject prefix. Default: the stream name." }),
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
  { default: {}, description: "The JetStream stream holding the messages." },
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
  },
  {
    default: {},
    description: "Horizontal autoscaling of the edges.",
    // Enforced by a real API server (CEL); the operator checks it too (parseSpec) for older CRDs.
    "x-kubernetes-validations": [{ rule: "self.min <= self.max", message: "min must not exceed max" }],
  },
);

export const EdgeSpec = Type.Object(
  {
    image: Type.String({
      minLength: 1,
      default: "ghcr.io/herald-dev/herald-edge:0.1.0",
      description: "Edge container image.",
    }),
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
      { default: {}, description: "Container resources." },
    ),
    drainSeconds: EdgeInteger("drainSeconds"),
    logLevel: StringEnum(EDGE_VARIABLES.logLevel.values, {
      default: EDGE_VARIABLES.logLevel.default,
      description: EDGE_VARIABLES.logLevel.doc,
    }),
    autoscaling: AutoscalingSpec,
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
  },
  { default: {}, description: "Who may connect, subscribe and publish." },
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
  },
  { default: {}, description: "Per-connection and per-edge limits." },
);

export const IngressSpec = Type.Object(
  {
    className: Type.Optional(Type.String({ minLength: 1, description: "IngressClass name." })),
    host: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
      description: "Public host name.",
    }),
    tlsSecret: Type.Optional(
      Type.String({ minLength: 1, description: "Secret with the TLS certificate for the host." }),
    ),
  },
  { description: "Expose the edges through an Ingress (WebSocket timeouts set)." },
);

export const NotificationServiceSpec = Type.Object({
  nats: NatsSpec,
  stream: StreamSpec,
  edge: EdgeSpec,
  auth: AuthSpec,
  limits: LimitsSpec,
  ingress: Type.Optional(IngressSpec),
});
export type NotificationServiceSpec = Static<typeof NotificationServiceSpec>;

export type SecretKeyRef = Static<ReturnType<typeof SecretKeyRef>>;

/** Every Secret key a resource's edges use (the operator reads the NATS credentials too). */
export function secretRefs(spec: NotificationServiceSpec): SecretKeyRef[] {
  return [spec.nats.credentialsSecret, spec.auth.jwtSecret, spec.auth.apiKeysSecret].filter(
    (ref) => ref !== undefined,
  );
}

export const CONDITION_TYPES = ["Ready", "StreamReady", "EdgeAvailable"] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export const Condition = Type.Object({
  type: Type.String({ description: "Ready, StreamReady or EdgeAvailable." }),
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
    conditions: Type.Optional(Type.Array(Condition, { description: "Ready, StreamReady, EdgeAvailable." })),
    replicas: Type.Optional(Type.Integer({ minimum: 0, description: "Edge pods (scale subresource)." })),
    readyReplicas: Type.Optional(Type.Integer({ minimum: 0, description: "Edge pods ready." })),
    selector: Type.Optional(
      Type.String({ description: "Label selector of the edge pods (scale subresource)." }),
    ),
    endpoint: Type.Optional(Type.String({ description: "WebSocket URL clients connect to." })),
    stream: Type.Optional(Type.String({ description: "JetStream stream name." })),
    epoch: Type.Optional(
      Type.String({ description: "Identity of the stream's history; changes when it is re-created." }),
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
  return spec;
}

/** Seconds in a Duration string. */
export function durationSeconds(duration: string): number {
  const match = new RegExp(DURATION_PATTERN).exec(duration);
  if (!match) throw new SpecError([`invalid duration ${JSON.stringify(duration)}`]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[match[1] as "s" | "m" | "h" | "d"];
  return Number.parseInt(duration, 10) * unit;
}
