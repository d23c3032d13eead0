// NotificationService status: conditions with observedGeneration, written only when they change
// (a second reconcile of an unchanged resource writes nothing).
import { isSubset } from "./apply.js";
import type { Condition, ConditionType, NotificationServiceStatus } from "./spec.js";

export interface ConditionInput {
  type: ConditionType;
  status: boolean;
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
    const status = input.status ? "True" : "False";
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
