// Brings one object to its desired state by server-side apply with the operator's field manager:
// the API server merges what the operator renders with what others set, and writes nothing when
// nothing changed.
import type { Manifest } from "./render.js";
import { FIELD_MANAGER, type KubeClient, type KubeObject } from "./kube.js";

export type ApplyResult = "created" | "updated" | "unchanged";

/** true when every field set in `desired` has the same value in `actual` (arrays element-wise). */
export function isSubset(desired: unknown, actual: unknown): boolean {
  if (desired === null || typeof desired !== "object") {
    if (actual instanceof Date && typeof desired === "string")
      return actual.toISOString() === new Date(desired).toISOString();
    return desired === actual;
  }
  if (Array.isArray(desired)) {
    return (
      Array.isArray(actual) &&
      actual.length === desired.length &&
      desired.every((item, i) => isSubset(item, actual[i]))
    );
  }
  if (actual === null || typeof actual !== "object") return false;
  return Object.entries(desired).every(([key, value]) =>
    isSubset(value, (actual as Record<string, unknown>)[key]),
  );
}

/**
 * Server-side apply of the operator's desired object (see KubeClient.apply): fields other actors
 * set survive (a `kubectl rollout restart` annotation, an HPA's replicas, labels added by hand),
 * and fields the operator stops rendering (a removed toleration) are removed. The result says
 * whether anything changed: a no-op apply leaves the resourceVersion as it was.
 */
export async function applyObject(client: KubeClient, desired: Manifest): Promise<ApplyResult> {
  const existing = await client.read(
    desired.apiVersion,
    desired.kind,
    desired.metadata.namespace,
    desired.metadata.name,
  );
  if (existing) await handOverReplicas(client, desired, existing);
  const applied = await client.apply(desired as KubeObject);
  if (!existing) return "created";
  return applied.metadata?.resourceVersion === existing.metadata?.resourceVersion ? "unchanged" : "updated";
}

/** The field manager that keeps a Deployment's replica count while an HPA owns it. */
export const HANDOVER_MANAGER = "herald-operator-handover";

/**
 * Autoscaling turned on: the operator stops applying spec.replicas, and server-side apply would
 * remove a field nobody else owns (the Deployment would drop to 1 pod until the HPA acts). So the
 * current count is first applied, unchanged, by a second manager that keeps it (Kubernetes'
 * documented hand-over to an HPA); the HPA takes it over when it first changes it.
 */
async function handOverReplicas(client: KubeClient, desired: Manifest, existing: KubeObject): Promise<void> {
  if (desired.kind !== "Deployment" || (desired.spec as { replicas?: number }).replicas !== undefined) return;
  const replicas = (existing.spec as { replicas?: number } | undefined)?.replicas;
  const owners = (existing.metadata?.managedFields ?? [])
    .filter(
      (entry) =>
        (entry.fieldsV1 as { "f:spec"?: { "f:replicas"?: unknown } } | undefined)?.["f:spec"]?.["f:replicas"],
    )
    .map((entry) => entry.manager);
  // Only when the operator is the one keeping the count (nobody else would keep it once it stops).
  if (replicas === undefined || !owners.includes(FIELD_MANAGER) || owners.some((o) => o !== FIELD_MANAGER))
    return;
  await client.apply(
    {
      apiVersion: desired.apiVersion,
      kind: desired.kind,
      metadata: { name: desired.metadata.name, namespace: desired.metadata.namespace },
      spec: { replicas },
    },
    HANDOVER_MANAGER,
    false,
  );
}
