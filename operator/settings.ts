// The operator's own configuration: one list of environment variables, read by main.ts and
// checked against the Helm chart's Deployment by the chart tests (so the two cannot drift).
import { hostname } from "node:os";
import { LOG_LEVELS, type LogLevel } from "../shared/log.js";

/** The edge image of resources that do not pin one, when the chart does not say (the chart sets its own). */
export const DEFAULT_EDGE_IMAGE = "ghcr.io/herald-dev/herald-edge:0.1.0";

export const OPERATOR_VARIABLES = {
  edgeImage: {
    env: "HERALD_OPERATOR_EDGE_IMAGE",
    doc: "Edge image of NotificationServices without spec.edge.image (the chart sets edgeImage, tag = its appVersion): a new operator version rolls their edges.",
    default: DEFAULT_EDGE_IMAGE,
  },
  podName: {
    env: "POD_NAME",
    doc: "This replica's identity in the leader Lease (the chart sets the pod name).",
  },
  podNamespace: { env: "POD_NAMESPACE", doc: "Namespace of the leader Lease.", default: "default" },
  watchNamespace: {
    env: "HERALD_OPERATOR_NAMESPACE",
    doc: "Watch NotificationServices in this namespace only; empty = all.",
  },
  leaseName: { env: "HERALD_OPERATOR_LEASE", doc: "Name of the leader Lease.", default: "herald-operator" },
  leaseSeconds: {
    env: "HERALD_OPERATOR_LEASE_SECONDS",
    doc: "Lease duration; a dead leader is replaced after it.",
    default: "15",
    min: 1,
  },
  port: {
    env: "HERALD_OPERATOR_PORT",
    doc: "Port of /healthz and /metrics (0 = any free port, printed).",
    default: "8081",
    min: 0,
  },
  workers: { env: "HERALD_OPERATOR_WORKERS", doc: "Resources reconciled in parallel.", default: "2", min: 1 },
  resyncSeconds: {
    env: "HERALD_OPERATOR_RESYNC_SECONDS",
    doc: "Every resource is reconciled again this often.",
    default: "300",
    min: 1,
  },
  stuckSeconds: {
    env: "HERALD_OPERATOR_STUCK_SECONDS",
    doc: "/healthz fails on the leader when a reconcile has been running, or a watch failing, this long (the liveness probe restarts it).",
    default: "300",
    min: 1,
  },
  logLevel: {
    env: "HERALD_OPERATOR_LOG_LEVEL",
    doc: `Log level: ${LOG_LEVELS.join(", ")}.`,
    default: "info",
  },
} as const;

export interface OperatorSettings {
  edgeImage: string;
  identity: string;
  leaseNamespace: string;
  watchNamespace: string | undefined;
  leaseName: string;
  leaseSeconds: number;
  port: number;
  workers: number;
  resyncSeconds: number;
  stuckSeconds: number;
  logLevel: LogLevel;
}

/** Reads the settings; throws one line per bad value. */
export function loadOperatorSettings(
  env: Record<string, string | undefined> = process.env,
): OperatorSettings {
  const problems: string[] = [];
  const text = (key: keyof typeof OPERATOR_VARIABLES) => {
    const variable = OPERATOR_VARIABLES[key];
    const value = env[variable.env];
    return value === undefined || value === ""
      ? "default" in variable
        ? variable.default
        : undefined
      : value;
  };
  const integer = (key: "leaseSeconds" | "port" | "workers" | "resyncSeconds" | "stuckSeconds") => {
    const raw = text(key)!;
    const value = Number(raw);
    const { env: name, min } = OPERATOR_VARIABLES[key];
    if (!/^\d+$/.test(raw) || value < min)
      problems.push(`${name} must be a whole number >= ${min}, got ${JSON.stringify(raw)}`);
    return value;
  };
  const settings: OperatorSettings = {
    edgeImage: text("edgeImage")!,
    identity: text("podName") ?? `${hostname()}-${process.pid}`,
    leaseNamespace: text("podNamespace")!,
    watchNamespace: text("watchNamespace"),
    leaseName: text("leaseName")!,
    leaseSeconds: integer("leaseSeconds"),
    port: integer("port"),
    workers: integer("workers"),
    resyncSeconds: integer("resyncSeconds"),
    stuckSeconds: integer("stuckSeconds"),
    logLevel: text("logLevel") as LogLevel,
  };
  if (!(LOG_LEVELS as readonly string[]).includes(settings.logLevel))
    problems.push(
      `${OPERATOR_VARIABLES.logLevel.env} must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(settings.logLevel)}`,
    );
  if (problems.length > 0) throw new Error(`invalid operator configuration:\n  ${problems.join("\n  ")}`);
  return settings;
}
