// Brings one object to its desired state with the fewest writes: create when missing, replace
// when a field the operator sets differs, and nothing at all when it already matches (fields the
// API server or other controllers add are ignored). A stale resourceVersion surfaces as a 409,
// which the work queue retries with a fresh read.
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

function needsUpdate(desired: Manifest, existing: KubeObject): boolean {
  const { metadata, apiVersion: _a, kind: _k, ...body } = desired;
  const current = existing.metadata ?? {};
  return (
    !isSubset(metadata.labels ?? {}, current.labels ?? {}) ||
    !isSubset(metadata.annotations ?? {}, current.annotations ?? {}) ||
    !isSubset(metadata.ownerReferences ?? [], current.ownerReferences ?? []) ||
    !isSubset(body, existing)
  );
}

/**
 * `keepReplicas`: the object's spec.replicas belongs to someone else (the HPA): never write it,
 * keep whatever is there.
 */
export async function applyObject(
  client: KubeClient,
  desired: Manifest,
  options: { keepReplicas?: boolean } = {},
): Promise<ApplyResult> {
  const existing = await client.read(
    desired.apiVersion,
    desired.kind,
    desired.metadata.namespace,
    desired.metadata.name,
  );
  if (!existing) {
    await client.create(desired as KubeObject);
    return "created";
  }
  if (!needsUpdate(desired, existing)) return "unchanged";
  const { metadata, ...body } = desired;
  const replacement: KubeObject = {
    ...existing,
    ...body,
    metadata: {
      ...existing.metadata,
      labels: { ...existing.metadata?.labels, ...metadata.labels },
      annotations: { ...existing.metadata?.annotations, ...metadata.annotations },
      ownerReferences: metadata.ownerReferences as never,
    },
  };
  const existingSpec = existing.spec as { replicas?: number } | undefined;
  if (options.keepReplicas && existingSpec?.replicas !== undefined) {
    replacement.spec = { ...(replacement.spec as object), replicas: existingSpec.replicas };
  }
  await client.replace(replacement);
  return "updated";
}
