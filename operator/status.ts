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
export function withConditions(previous: Condition[] | undefined, inputs: ConditionInput[], generation: number, now = new Date()): Condition[] {
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

/** The Ready condition summarises the others. */
export function readyCondition(stream: ConditionInput, edge: ConditionInput): ConditionInput {
  const failing = [stream, edge].find((c) => !c.status);
  return failing
    ? { type: "Ready", status: false, reason: failing.reason, message: failing.message }
    : { type: "Ready", status: true, reason: "Ready", message: "stream ready and edges available" };
}

export function statusChanged(previous: NotificationServiceStatus | undefined, next: NotificationServiceStatus): boolean {
  return !(isSubset(next, previous ?? {}) && isSubset(previous ?? {}, next));
}
