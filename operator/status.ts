// NotificationService status: conditions with observedGeneration, written only when they change
// (a second reconcile of an unchanged resource writes nothing).
import { isSubset } from "./apply.js";
import type { Condition, ConditionType, NotificationServiceStatus } from "./spec.js";

export interface ConditionInput {
  type: ConditionType;
  /** True, False, or Unknown (not known yet: an HPA that has not reported). */
  status: boolean | "Unknown";
  reason: string;
  message: string;
}

/** Sets conditions; lastTransitionTime moves only when a condition's status flips. */
export function withConditions(
  previous: Condition[] | undefined,
  inputs: ConditionInput[],
  generation: number,
  now = new Date(),
): Condition[] {
  const timestamp = now.toISOString().replace(/\.\d+Z$/, "Z");
  return inputs.map((input) => {
    const status = input.status === "Unknown" ? "Unknown" : input.status ? "True" : "False";
    const before = previous?.find((c) => c.type === input.type);
    return {
      type: input.type,
      status,
      reason: input.reason,
      message: input.message,
      lastTransitionTime: before && before.status === status ? before.lastTransitionTime : timestamp,
      observedGeneration: generation,
    };
  });
}

/** The fields of an apps/v1 Deployment that tell how far its rollout is. */
export interface DeploymentRollout {
  metadata?: { generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

/**
 * EdgeAvailable, judged as `kubectl rollout status` judges a Deployment: True only when the
 * Deployment controller has seen the current generation, every wanted pod runs the current pod
 * template, no old pod is left and all of them are available. Pods that become unavailable after
 * a finished rollout (Progressing reason NewReplicaSetAvailable) are EdgesNotReady, not a rollout.
 */
export function edgeCondition(deployment: DeploymentRollout | undefined): ConditionInput {
  const edge = (status: boolean, reason: string, message: string): ConditionInput => ({
    type: "EdgeAvailable",
    status,
    reason,
    message,
  });
  if (!deployment) return edge(false, "RollingOut", "the edge Deployment does not exist yet");
  const generation = deployment.metadata?.generation ?? 1;
  const wanted = deployment.spec?.replicas ?? 1; // the API server's default
  const {
    observedGeneration = 0,
    replicas = 0,
    updatedReplicas = 0,
    availableReplicas = 0,
    conditions = [],
  } = deployment.status ?? {};
  if (observedGeneration < generation)
    return edge(
      false,
      "RollingOut",
      `waiting for the Deployment controller to observe generation ${generation}`,
    );
  const progressing = conditions.find((c) => c.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") {
    return edge(
      false,
      "ProgressDeadlineExceeded",
      `rollout of generation ${generation} is stuck: ${progressing.message ?? "progress deadline exceeded"}`,
    );
  }
  if (updatedReplicas < wanted)
    return edge(
      false,
      "RollingOut",
      `${updatedReplicas} of ${wanted} edge pods updated to generation ${generation}`,
    );
  if (replicas > updatedReplicas)
    return edge(false, "RollingOut", `${replicas - updatedReplicas} old edge pods pending termination`);
  if (wanted === 0) return edge(false, "ScaledToZero", "0 edge pods wanted");
  if (availableReplicas < wanted) {
    const finished = progressing?.reason === "NewReplicaSetAvailable";
    return edge(
      false,
      finished ? "EdgesNotReady" : "RollingOut",
      `${availableReplicas}/${wanted} edge pods available`,
    );
  }
  return edge(
    true,
    "EdgesReady",
    `${availableReplicas}/${wanted} edge pods available (generation ${generation} rolled out)`,
  );
}

/** The fields of an autoscaling/v2 HorizontalPodAutoscaler that tell whether it can scale. */
export interface HpaState {
  spec?: {
    metrics?: {
      type: string;
      resource?: { name: string };
      pods?: { metric: { name: string } };
      external?: { metric: { name: string } };
      object?: { metric: { name: string } };
    }[];
  };
  status?: {
    currentReplicas?: number;
    desiredReplicas?: number;
    currentMetrics?: HpaMetricName[] | null;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}
type HpaMetricName = NonNullable<NonNullable<HpaState["spec"]>["metrics"]>[number];

export const HPA_CONDITIONS = ["AbleToScale", "ScalingActive", "ScalingLimited"] as const;

function metricName(metric: HpaMetricName): string {
  const name =
    metric.resource?.name ??
    metric.pods?.metric.name ??
    metric.external?.metric.name ??
    metric.object?.metric.name;
  return `${metric.type} metric ${name ?? "?"}`;
}

/**
 * The Autoscaling condition, from the HPA's own status: False with the HPA's reason when it cannot
 * scale (AbleToScale False) or cannot compute a scale (ScalingActive False, e.g.
 * FailedGetPodsMetric), False MetricMissing when a metric of its spec has no current value (the
 * HPA then never scales down), Unknown while it has not reported, else True.
 */
export function autoscalingCondition(name: string, hpa: HpaState | undefined): ConditionInput {
  const result = (status: ConditionInput["status"], reason: string, message: string): ConditionInput => ({
    type: "Autoscaling",
    status,
    reason,
    message,
  });
  const conditions = hpa?.status?.conditions ?? [];
  if (!hpa || conditions.length === 0)
    return result("Unknown", "HPAPending", `waiting for the HorizontalPodAutoscaler ${name} to report`);
  const find = (type: string) => conditions.find((c) => c.type === type);
  const replicas = `desired ${hpa.status?.desiredReplicas ?? 0}, current ${hpa.status?.currentReplicas ?? 0} replicas`;
  for (const type of ["AbleToScale", "ScalingActive"]) {
    const condition = find(type);
    if (condition?.status === "False")
      return result(
        false,
        condition.reason ?? type,
        `${type}: ${condition.message ?? "False"} (${replicas})`,
      );
  }
  const current = new Set((hpa.status?.currentMetrics ?? []).map(metricName));
  const missing = (hpa.spec?.metrics ?? []).map(metricName).filter((metric) => !current.has(metric));
  if (missing.length > 0)
    return result(
      false,
      "MetricMissing",
      `the HPA has no value for ${missing.join(", ")}: it cannot scale on it and never scales down (${replicas})`,
    );
  const active = find("ScalingActive");
  if (active?.status !== "True")
    return result(
      "Unknown",
      "HPAPending",
      `ScalingActive is ${active?.status ?? "not reported"} (${replicas})`,
    );
  const limited = find("ScalingLimited");
  return result(
    true,
    "ScalingActive",
    `${replicas}${limited?.status === "True" ? `; ScalingLimited: ${limited.message ?? limited.reason}` : ""}`,
  );
}

/** The Ready condition summarises the others. */
export function readyCondition(stream: ConditionInput, edge: ConditionInput): ConditionInput {
  const failing = [stream, edge].find((c) => !c.status);
  return failing
    ? { type: "Ready", status: false, reason: failing.reason, message: failing.message }
    : { type: "Ready", status: true, reason: "Ready", message: "stream ready and edges available" };
}

export function statusChanged(
  previous: NotificationServiceStatus | undefined,
  next: NotificationServiceStatus,
): boolean {
  return !(isSubset(next, previous ?? {}) && isSubset(previous ?? {}, next));
}
