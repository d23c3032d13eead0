// The edge's configuration: one declarative list of environment variables. The edge validates the
// environment against it at start (one clear line per bad value); the operator renders the same
// list into the ConfigMap it writes, so the two can never drift apart.
import { readFileSync } from "node:fs";

export type VariableKind = "integer" | "boolean" | "string" | "list" | "enum";

export interface VariableSpec {
  /** Environment variable name. */
  readonly env: `HERALD_${string}`;
  readonly kind: VariableKind;
  readonly doc: string;
  /** Default as it would be written in the environment; undefined = unset. */
  readonly default?: string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  /** Secret material: never logged, and rendered from a Secret rather than a ConfigMap. */
  readonly secret?: boolean;
  /** Extra check on a string value, or on each item of a list: returns the problem, or undefined. */
  readonly check?: (value: string) => string | undefined;
}

const KiB = 1024;
const MiB = 1024 * KiB;

const tokenLike = (value: string) =>
  /^[A-Za-z0-9_-]{1,64}$/.test(value) ? undefined : "must be 1-64 characters of A-Z a-z 0-9 _ -";

// What nats.js accepts as a server: an optional nats://, tls://, ws:// or wss:// scheme, a host name,
// IPv4 address or [IPv6] address, and an optional port (nats.js defaults it to 4222). Anything else
// would only show up later as a connection that is retried forever.
const NATS_SERVER =
  /^(?:(?:nats|tls|wss?):\/\/)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*)(?::(\d{1,5}))?$/i;

const natsServer = (value: string) => {
  const match = NATS_SERVER.exec(value);
  const port = match?.[1] === undefined ? undefined : Number(match[1]);
  if (match && (port === undefined || (port >= 1 && port <= 65535))) return undefined;
  return `must list NATS servers as nats://, tls://, ws://, wss:// URLs or host:port, each with a host and a port 1-65535 (default 4222), got ${JSON.stringify(value)}`;
};

/** Every variable the edge reads. Keys are the config field names. */
export const EDGE_VARIABLES = {
  port: {
    env: "HERALD_PORT",
    kind: "integer",
    default: "8080",
    min: 0,
    max: 65535,
    doc: "TCP port for HTTP and WebSocket (0 = any free port).",
  },
  host: { env: "HERALD_HOST", kind: "string", default: "0.0.0.0", doc: "Address to listen on." },
  metricsPort: {
    env: "HERALD_METRICS_PORT",
    kind: "integer",
    default: "9464",
    min: 0,
    max: 65535,
    doc: "TCP port of the internal listener (on HERALD_HOST): GET /metrics and GET /v1/admin/stats (API key). Never route it publicly; the public port answers 404 for both (0 = any free port).",
  },
  demo: {
    env: "HERALD_DEMO",
    kind: "boolean",
    doc: "Serve the demo page at / on the public port (the SDK bundle at /client.js is served either way). Default: true with the embedded backend, false with NATS.",
  },
  natsUrl: {
    env: "HERALD_NATS_URL",
    kind: "list",
    check: natsServer,
    doc: "NATS server URLs (nats://, tls://, ws://, wss:// or host:port; port 4222 by default), comma-separated. Unset: the embedded in-memory backend.",
  },
  natsCreds: {
    env: "HERALD_NATS_CREDS",
    kind: "string",
    doc: "Path to a NATS credentials (.creds) file; only with HERALD_NATS_URL, and it must be readable when the edge starts.",
    secret: true,
  },
  natsNkey: {
    env: "HERALD_NATS_NKEY",
    kind: "string",
    doc: "Path to a file holding a NATS nkey seed (SU…); only with HERALD_NATS_URL, not with HERALD_NATS_CREDS.",
    secret: true,
  },
  natsUser: {
    env: "HERALD_NATS_USER",
    kind: "string",
    doc: "NATS user name (with HERALD_NATS_PASSWORD).",
    secret: true,
  },
  natsPassword: {
    env: "HERALD_NATS_PASSWORD",
    kind: "string",
    doc: "NATS password (with HERALD_NATS_USER).",
    secret: true,
  },
  natsTlsCa: {
    env: "HERALD_NATS_TLS_CA",
    kind: "string",
    doc: "Path to the CA certificate(s) (PEM) the NATS servers' certificates are verified with; turns TLS on.",
  },
  natsTlsCert: {
    env: "HERALD_NATS_TLS_CERT",
    kind: "string",
    doc: "Path to a client certificate (PEM) for NATS servers that verify clients (with HERALD_NATS_TLS_KEY).",
  },
  natsTlsKey: {
    env: "HERALD_NATS_TLS_KEY",
    kind: "string",
    doc: "Path to the client certificate's private key (PEM).",
    secret: true,
  },
  jetstreamDomain: {
    env: "HERALD_JETSTREAM_DOMAIN",
    kind: "string",
    check: tokenLike,
    doc: "JetStream domain to use (leaf nodes, hub and spoke); unset: the account's default.",
  },
  stream: {
    env: "HERALD_STREAM",
    kind: "string",
    default: "HERALD",
    check: tokenLike,
    doc: "JetStream stream name.",
  },
  subjectPrefix: {
    env: "HERALD_SUBJECT_PREFIX",
    kind: "string",
    default: "herald",
    check: tokenLike,
    doc: "Subject prefix: topics are stored on <prefix>.t.<topic> and republished on <prefix>.live.<topic>.",
  },
  streamReplicas: {
    env: "HERALD_STREAM_REPLICAS",
    kind: "integer",
    default: "1",
    min: 1,
    max: 5,
    doc: "Replicas when the edge creates the stream itself (the operator manages it in Kubernetes).",
  },
  streamStorage: {
    env: "HERALD_STREAM_STORAGE",
    kind: "enum",
    values: ["file", "memory"],
    default: "file",
    doc: "Storage when the edge creates the stream.",
  },
  maxAgeSeconds: {
    env: "HERALD_MAX_AGE_SECONDS",
    kind: "integer",
    default: "86400",
    min: 1,
    max: 10 * 365 * 86400,
    doc: "Retention: messages older than this are removed.",
  },
  maxMsgsPerTopic: {
    env: "HERALD_MAX_MSGS_PER_TOPIC",
    kind: "integer",
    default: "1000",
    min: 1,
    max: 10_000_000,
    doc: "Retention: messages kept per topic.",
  },
  maxBytes: {
    env: "HERALD_MAX_BYTES",
    kind: "integer",
    default: String(1024 * MiB),
    min: MiB,
    max: Number.MAX_SAFE_INTEGER,
    doc: "Retention: total bytes kept in the log.",
  },
  duplicateWindowSeconds: {
    env: "HERALD_DUPLICATE_WINDOW_SECONDS",
    kind: "integer",
    default: "120",
    min: 1,
    max: 86400,
    doc: "Window in which a repeated msgId is recognised as a duplicate.",
  },
  headCheckSeconds: {
    env: "HERALD_HEAD_CHECK_SECONDS",
    kind: "integer",
    default: "30",
    min: 0,
    max: 86400,
    doc: "NATS only: every this many seconds, check the head of up to 1000 subscribed topics (round-robin, one direct get each) so that a message whose live copy was lost is delivered even when no later message reveals the gap (0 = off).",
  },
  jwtSecret: { env: "HERALD_JWT_SECRET", kind: "string", secret: true, doc: "HMAC secret for HS256 tokens." },
  jwtPublicKey: {
    env: "HERALD_JWT_PUBLIC_KEY",
    kind: "string",
    doc: "PEM public key (SPKI) for RS256 or ES256 tokens.",
  },
  jwksUrl: {
    env: "HERALD_JWKS_URL",
    kind: "string",
    doc: "JWKS URL for token keys; refreshed on an unknown kid.",
  },
  jwtIssuer: { env: "HERALD_JWT_ISSUER", kind: "string", doc: "Required `iss` claim, when set." },
  jwtAudience: { env: "HERALD_JWT_AUDIENCE", kind: "string", doc: "Required `aud` claim, when set." },
  apiKeys: {
    env: "HERALD_API_KEYS",
    kind: "list",
    secret: true,
    doc: "API keys for servers that publish and read history, comma-separated.",
  },
  allowAnonymous: {
    env: "HERALD_ALLOW_ANONYMOUS",
    kind: "boolean",
    doc: "Allow connections without a token (subscribe to anything, no publish). Default: true with the embedded backend, false with NATS.",
  },
  anonymousPublish: {
    env: "HERALD_ANONYMOUS_PUBLISH",
    kind: "boolean",
    doc: "Let anonymous connections also publish to any topic (the demo page's form). Default: true with the embedded backend, false with NATS.",
  },
  allowedOrigins: {
    env: "HERALD_ALLOWED_ORIGINS",
    kind: "list",
    doc: "Origins allowed to open WebSockets from a browser, comma-separated. Unset: any origin.",
  },
  maxFrameBytes: {
    env: "HERALD_MAX_FRAME_BYTES",
    kind: "integer",
    default: String(64 * KiB),
    min: 256,
    max: 16 * MiB,
    doc: "Largest client frame and largest published message.",
  },
  maxSubscriptions: {
    env: "HERALD_MAX_SUBSCRIPTIONS",
    kind: "integer",
    default: "200",
    min: 1,
    max: 100_000,
    doc: "Subscriptions per connection.",
  },
  sendBufferBytes: {
    env: "HERALD_SEND_BUFFER_BYTES",
    kind: "integer",
    default: String(MiB),
    min: 4 * KiB,
    max: 256 * MiB,
    doc: "Bytes a connection may have queued; beyond it the client is closed with 4008.",
  },
  cachePerTopic: {
    env: "HERALD_CACHE_PER_TOPIC",
    kind: "integer",
    default: "1000",
    min: 0,
    max: 1_000_000,
    doc: "Recent messages each edge keeps per subscribed topic for resumes.",
  },
  memoryBudgetBytes: {
    env: "HERALD_MEMORY_BUDGET_BYTES",
    kind: "integer",
    default: String(256 * MiB),
    min: MiB,
    max: Number.MAX_SAFE_INTEGER,
    doc: "Bytes the edge may hold for its clients beyond their send buffers: topic rings and hand-over buffers (their oldest messages are dropped first under pressure), replay and history pages, queued live messages, frames held before auth. At least 16x HERALD_MAX_FRAME_BYTES.",
  },
  framesPerSecond: {
    env: "HERALD_FRAMES_PER_SECOND",
    kind: "integer",
    default: "100",
    min: 1,
    max: 1_000_000,
    doc: "Client frames per second per connection (token bucket, burst = 2x).",
  },
  publishesPerSecond: {
    env: "HERALD_PUBLISHES_PER_SECOND",
    kind: "integer",
    default: "50",
    min: 1,
    max: 1_000_000,
    doc: "pub frames per second per connection (token bucket, burst = 2x); over HTTP, messages per second per token subject (a batch counts each message).",
  },
  httpPublishesPerSecond: {
    env: "HERALD_HTTP_PUBLISHES_PER_SECOND",
    kind: "integer",
    default: "10000",
    min: 1,
    max: 10_000_000,
    doc: "Messages per second each API key, and each source address publishing without a credential, may publish over HTTP (token bucket, burst = 2x; a batch counts each message). Tokens are held to HERALD_PUBLISHES_PER_SECOND.",
  },
  historyReadsPerSecond: {
    env: "HERALD_HISTORY_READS_PER_SECOND",
    kind: "integer",
    default: "100",
    min: 1,
    max: 1_000_000,
    doc: "GET /v1/topics/:topic/messages requests per second per API key, token subject, or source address for anonymous callers (token bucket, burst = 2x).",
  },
  maxConnections: {
    env: "HERALD_MAX_CONNECTIONS",
    kind: "integer",
    default: "100000",
    min: 1,
    max: 10_000_000,
    doc: "Open WebSocket connections per edge.",
  },
  maxPendingUpgrades: {
    env: "HERALD_MAX_PENDING_UPGRADES",
    kind: "integer",
    default: "1000",
    min: 1,
    max: 1_000_000,
    doc: "Slowloris bound: connections still without a complete request (request line and headers) after 1 s kept in all; beyond it the source address holding the most loses its oldest. Connections are never refused on arrival.",
  },
  maxPendingPerAddress: {
    env: "HERALD_MAX_PENDING_PER_ADDRESS",
    kind: "integer",
    default: "100",
    min: 1,
    max: 1_000_000,
    doc: "Slowloris bound per source address: connections from one address still without a complete request after 1 s; one more is cut off when it turns slow.",
  },
  upgradeTimeoutMs: {
    env: "HERALD_UPGRADE_TIMEOUT_MS",
    kind: "integer",
    default: "10000",
    min: 100,
    max: 600_000,
    doc: "Time allowed to finish the HTTP request and WebSocket upgrade.",
  },
  authTimeoutMs: {
    env: "HERALD_AUTH_TIMEOUT_MS",
    kind: "integer",
    default: "10000",
    min: 100,
    max: 600_000,
    doc: "Time a connection without a token has to send its auth frame.",
  },
  heartbeatMs: {
    env: "HERALD_HEARTBEAT_MS",
    kind: "integer",
    default: "25000",
    min: 1000,
    max: 600_000,
    doc: "WebSocket ping interval; a peer silent for two intervals is dropped.",
  },
  historyLimit: {
    env: "HERALD_HISTORY_LIMIT",
    kind: "integer",
    default: "1000",
    min: 1,
    max: 100_000,
    doc: "Largest page of GET /v1/topics/:topic/messages and of one replay read.",
  },
  drainSeconds: {
    env: "HERALD_DRAIN_SECONDS",
    kind: "integer",
    default: "30",
    min: 0,
    max: 3600,
    doc: "On SIGTERM, connections are closed in waves over this many seconds.",
  },
  drainDelayMs: {
    env: "HERALD_DRAIN_DELAY_MS",
    kind: "integer",
    default: "0",
    min: 0,
    max: 600_000,
    doc: "On SIGTERM, wait this long after turning unready before draining (lets load balancers notice).",
  },
  drainRate: {
    env: "HERALD_DRAIN_RATE",
    kind: "integer",
    default: "0",
    min: 0,
    max: 1_000_000,
    doc: "On SIGTERM, close at most about this many connections per second (the drain then takes connections/rate seconds, never more than HERALD_DRAIN_SECONDS); 0 = spread over all of HERALD_DRAIN_SECONDS.",
  },
  notificationService: {
    env: "HERALD_NOTIFICATION_SERVICE",
    kind: "string",
    doc: "Names the service this edge serves in every log line (field notificationservice); the operator sets it to the NotificationService's namespace/name.",
  },
  logLevel: {
    env: "HERALD_LOG_LEVEL",
    kind: "enum",
    values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
    default: "info",
    doc: "Log level.",
  },
} as const satisfies Record<string, VariableSpec>;

type Variables = typeof EDGE_VARIABLES;
type ValueOf<V> = V extends { kind: "integer" }
  ? number
  : V extends { kind: "boolean" }
    ? boolean
    : V extends { kind: "list" }
      ? string[]
      : V extends { kind: "enum"; values: readonly (infer E)[] }
        ? E
        : string;
type Resolved<V> = V extends { default: string } ? ValueOf<V> : ValueOf<V> | undefined;

export type EdgeConfig = { -readonly [K in keyof Variables]: Resolved<Variables[K]> };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

function parseValue(spec: VariableSpec, raw: string): { value?: unknown; problem?: string } {
  switch (spec.kind) {
    case "integer": {
      if (!/^-?\d+$/.test(raw.trim()))
        return { problem: `must be a whole number, got ${JSON.stringify(raw)}` };
      const n = Number(raw.trim());
      if (!Number.isSafeInteger(n)) return { problem: `is too large: ${raw}` };
      if (spec.min !== undefined && n < spec.min)
        return { problem: `must be at least ${spec.min}, got ${n}` };
      if (spec.max !== undefined && n > spec.max) return { problem: `must be at most ${spec.max}, got ${n}` };
      return { value: n };
    }
    case "boolean": {
      const v = raw.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return { value: true };
      if (["0", "false", "no", "off"].includes(v)) return { value: false };
      return { problem: `must be true or false, got ${JSON.stringify(raw)}` };
    }
    case "list": {
      const items = raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      if (items.length === 0) return { problem: "must list at least one value (comma-separated)" };
      const problem = items.map((item) => spec.check?.(item)).find((p) => p !== undefined);
      return problem ? { problem } : { value: items };
    }
    case "enum":
      return spec.values!.includes(raw.trim())
        ? { value: raw.trim() }
        : { problem: `must be one of ${spec.values!.join(", ")}, got ${JSON.stringify(raw)}` };
    case "string": {
      if (raw.length === 0) return { problem: "must not be empty" };
      const problem = spec.check?.(raw);
      return problem ? { problem } : { value: raw };
    }
  }
}

/**
 * HERALD_* names that are not the edge's but may be in its environment: the operator's own
 * settings, and the variables Kubernetes adds for every Service of the namespace (service links;
 * a Service named herald-x gives HERALD_X_SERVICE_HOST, HERALD_X_PORT_8080_TCP, ...).
 */
const NOT_OURS =
  /^HERALD_(OPERATOR_|(\w+_)?SERVICE_(HOST|PORT)(_\w+)?$|(\w+_)?PORT_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?$)/;

/** Every HERALD_* variable of `env` the edge does not know, each with the nearest known name. */
export function unknownVariables(env: Record<string, string | undefined>): string[] {
  const known = Object.values(EDGE_VARIABLES).map((spec: VariableSpec) => spec.env as string);
  const problems: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith("HERALD_") || known.includes(name) || NOT_OURS.test(name)) continue;
    const [nearest, distance] = known
      .map((k) => [k, editDistance(name, k)] as const)
      .reduce((a, b) => (b[1] < a[1] ? b : a));
    const hint =
      distance <= Math.max(2, Math.floor(nearest.length / 4))
        ? `did you mean ${nearest}?`
        : "shared/config.ts lists every variable the edge reads";
    problems.push(`${name} is not a variable the edge knows (${hint})`);
  }
  return problems;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** Reads and validates the configuration. Throws ConfigError listing every bad value, one per line. */
export function loadConfig(env: Record<string, string | undefined> = process.env): EdgeConfig {
  // A misspelt name would otherwise be ignored without a word (HERALD_NATSURL: an in-memory edge).
  const problems: string[] = unknownVariables(env);
  const config: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(EDGE_VARIABLES) as [string, VariableSpec][]) {
    const raw = env[spec.env] ?? spec.default;
    if (raw === undefined) continue;
    const { value, problem } = parseValue(spec, raw);
    if (problem) problems.push(`${spec.env} ${problem}`);
    else config[key] = value;
  }
  const result = config as EdgeConfig;
  if (result.jwtSecret && result.jwtSecret.length < 32) {
    problems.push("HERALD_JWT_SECRET must be at least 32 characters (HS256 needs a 256-bit key)");
  }
  if (
    result.sendBufferBytes !== undefined &&
    result.maxFrameBytes !== undefined &&
    result.sendBufferBytes < 2 * result.maxFrameBytes
  ) {
    // A replay fills at most half the send buffer, and one message may be as large as a frame.
    problems.push(
      `HERALD_SEND_BUFFER_BYTES must be at least twice HERALD_MAX_FRAME_BYTES (${2 * result.maxFrameBytes}), got ${result.sendBufferBytes}`,
    );
  }
  if (
    result.memoryBudgetBytes !== undefined &&
    result.maxFrameBytes !== undefined &&
    result.memoryBudgetBytes < 16 * result.maxFrameBytes
  ) {
    // Rings, pages and held frames hold whole messages: a budget must fit a few of the largest.
    problems.push(
      `HERALD_MEMORY_BUDGET_BYTES must be at least 16 times HERALD_MAX_FRAME_BYTES (${16 * result.maxFrameBytes}), got ${result.memoryBudgetBytes}`,
    );
  }
  if (result.natsCreds !== undefined && env[EDGE_VARIABLES.natsUrl.env] === undefined) {
    problems.push("HERALD_NATS_CREDS is set but HERALD_NATS_URL is not: credentials are only used with NATS");
  }
  if (result.natsNkey !== undefined && result.natsCreds !== undefined)
    problems.push("HERALD_NATS_NKEY and HERALD_NATS_CREDS are both set: use one way to authenticate to NATS");
  if ((result.natsUser === undefined) !== (result.natsPassword === undefined))
    problems.push("HERALD_NATS_USER and HERALD_NATS_PASSWORD go together: set both or neither");
  if (result.natsUser !== undefined && (result.natsCreds !== undefined || result.natsNkey !== undefined))
    problems.push(
      "HERALD_NATS_USER is set with HERALD_NATS_CREDS or HERALD_NATS_NKEY: use one way to authenticate to NATS",
    );
  if ((result.natsTlsCert === undefined) !== (result.natsTlsKey === undefined))
    problems.push("HERALD_NATS_TLS_CERT and HERALD_NATS_TLS_KEY go together: set both or neither");
  for (const key of ["natsNkey", "natsUser", "natsTlsCa", "natsTlsCert", "jetstreamDomain"] as const) {
    if (result[key] !== undefined && env[EDGE_VARIABLES.natsUrl.env] === undefined)
      problems.push(
        `${EDGE_VARIABLES[key].env} is set but HERALD_NATS_URL is not: it is only used with NATS`,
      );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  // Anonymous access is a dev convenience: on by default only for the embedded backend.
  result.allowAnonymous ??= result.natsUrl === undefined;
  result.anonymousPublish ??= result.natsUrl === undefined;
  result.demo ??= result.natsUrl === undefined;
  return result;
}

/** True when no client could ever get in: anonymous access off, and no JWT key nor API key. */
export function hasNoWayIn(
  config: Pick<EdgeConfig, "allowAnonymous" | "jwtSecret" | "jwtPublicKey" | "jwksUrl" | "apiKeys">,
): boolean {
  return !(
    config.allowAnonymous ||
    config.jwtSecret ||
    config.jwtPublicKey ||
    config.jwksUrl ||
    config.apiKeys
  );
}

/**
 * Checks what loadConfig cannot without touching the file system (it is also used by the operator,
 * where the edge's files do not exist): the NATS credentials file must be readable. Throws ConfigError.
 */
export function checkConfigFiles(
  config: Partial<Pick<EdgeConfig, "natsCreds" | "natsNkey" | "natsTlsCa" | "natsTlsCert" | "natsTlsKey">>,
): void {
  const files = [
    ["natsCreds", "a readable NATS credentials file"],
    ["natsNkey", "a readable nkey seed file"],
    ["natsTlsCa", "a readable CA certificate file"],
    ["natsTlsCert", "a readable client certificate file"],
    ["natsTlsKey", "a readable private key file"],
  ] as const;
  const problems: string[] = [];
  for (const [key, what] of files) {
    const path = config[key];
    if (path === undefined) continue;
    try {
      readFileSync(path);
    } catch (error) {
      // "ENOENT: no such file or directory, open '<path>'": the reason without the path, which may be secret.
      const reason = error instanceof Error ? error.message.split(",")[0] : String(error);
      problems.push(`${EDGE_VARIABLES[key].env} must name ${what}: ${reason}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
