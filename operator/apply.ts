// Brings one object to its desired state by server-side apply with the operator's field manager:
// the API server merges what the operator renders with what others set, and writes nothing when
// nothing changed.
import type { Manifest } from "./render.js";
import type { KubeClient, KubeObject } from "./kube.js";

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
  const applied = await client.apply(desired as KubeObject);
  if (!existing) return "created";
  return applied.metadata?.resourceVersion === existing.metadata?.resourceVersion ? "unchanged" : "updated";
}
