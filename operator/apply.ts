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
  const current = existing && (await takeOverLegacyFields(client, existing));
  if (current) await handOverReplicas(client, desired, current);
  const applied = await client.apply(desired as KubeObject);
  if (!existing) return "created";
  return applied.metadata?.resourceVersion === existing.metadata?.resourceVersion ? "unchanged" : "updated";
}

/**
 * The field manager of the operator's writes before it used server-side apply: it created and
 * replaced whole objects through @kubernetes/client-node without naming a manager, so the API
 * server named it after the user agent (node-fetch), with operation Update.
 */
export const LEGACY_MANAGER = "node-fetch";

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: unknown;
  [field: string]: unknown;
}

/** The union of FieldsV1 sets (nested objects of f:/k:/v: keys, `{}` for a leaf, "." for an item). */
export function unionFields(a: unknown, b: unknown): Record<string, unknown> {
  const result: Record<string, unknown> = { ...(a as Record<string, unknown> | undefined) };
  for (const [key, value] of Object.entries((b as Record<string, unknown> | undefined) ?? {}))
    result[key] = key in result ? unionFields(result[key], value) : value;
  return result;
}

/**
 * The managedFields of an object written by the operator before server-side apply, moved to its
 * Apply manager (as client-go's csaupgrade does); undefined when there is nothing to move. Without
 * this, every field the old operator set stays owned by its Update entry, so an apply never
 * removes the ones it no longer renders (the old fixed runAsUser/runAsGroup/fsGroup of the edge
 * pods would outlive an upgrade) and a field later dropped from the spec would stay too.
 */
export function migratedManagedFields(
  entries: readonly ManagedFieldsEntry[],
  apiVersion: string,
  now = new Date(),
): ManagedFieldsEntry[] | undefined {
  const legacy = (entry: ManagedFieldsEntry) =>
    entry.manager === LEGACY_MANAGER && entry.operation === "Update" && !entry.subresource;
  const mine = (entry: ManagedFieldsEntry) =>
    entry.manager === FIELD_MANAGER && entry.operation === "Apply" && !entry.subresource;
  if (!entries.some(legacy)) return undefined;
  let fields: Record<string, unknown> = {};
  for (const entry of entries) {
    if (mine(entry)) fields = unionFields(fields, entry.fieldsV1);
    if (legacy(entry)) fields = unionFields(fields, withoutAllocated(entry.fieldsV1));
  }
  return [
    ...entries.filter((entry) => !legacy(entry) && !mine(entry)),
    {
      manager: FIELD_MANAGER,
      operation: "Apply",
      apiVersion,
      // A Date, as @kubernetes/client-node reads and serializes managedFields times (whole seconds).
      time: new Date(Math.floor(now.getTime() / 1000) * 1000),
      fieldsType: "FieldsV1",
      fieldsV1: fields,
    },
  ];
}

/**
 * A Service's addresses are the API server's, immutable once allocated: never taken over (an apply
 * that owned them and left them out would ask for their removal, which the API server refuses).
 */
function withoutAllocated(fields: unknown): Record<string, unknown> {
  const copy = { ...(fields as Record<string, unknown> | undefined) };
  const spec = copy["f:spec"] as Record<string, unknown> | undefined;
  if (spec && ("f:clusterIP" in spec || "f:clusterIPs" in spec)) {
    const { "f:clusterIP": _ip, "f:clusterIPs": _ips, ...rest } = spec;
    copy["f:spec"] = rest;
  }
  return copy;
}

/** Moves the fields the operator's earlier versions own to its Apply manager (see migratedManagedFields). */
async function takeOverLegacyFields(client: KubeClient, existing: KubeObject): Promise<KubeObject> {
  const migrated = migratedManagedFields(
    (existing.metadata?.managedFields ?? []) as ManagedFieldsEntry[],
    existing.apiVersion!,
  );
  if (!migrated) return existing;
  // With the resourceVersion read: a concurrent write makes this a 409, retried with a fresh read.
  return client.replaceManagedFields(existing, migrated);
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
