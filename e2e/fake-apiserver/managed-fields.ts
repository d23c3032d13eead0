// Server-side apply for the fake API server: field ownership (metadata.managedFields, FieldsV1)
// per field manager, as the real API server's structured-merge-diff keeps it. An apply merges the
// applied configuration into the live object, takes ownership of exactly the fields it names
// (409 on a conflict with another manager unless forced), and removes the fields its manager
// applied before and no longer names, unless another manager owns them. An update (PUT, merge or
// strategic patch) gives its manager the fields it changed. Lists are merged by key where
// Kubernetes declares them `map` lists (containers by name, env by name, ports by port and
// protocol, …) and replaced whole otherwise (atomic). Test-only.
import { ApiError, type KubeObject } from "./store.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Map lists of the built-in types the operator writes (by field name), and the CRD's conditions. */
const LIST_KEYS: Record<string, string[][]> = {
  containers: [["name"]],
  initContainers: [["name"]],
  ephemeralContainers: [["name"]],
  env: [["name"]],
  volumes: [["name"]],
  volumeMounts: [["mountPath"]],
  imagePullSecrets: [["name"]],
  // Container ports are keyed by containerPort and protocol, Service ports by port and protocol.
  ports: [
    ["containerPort", "protocol"],
    ["port", "protocol"],
  ],
  topologySpreadConstraints: [["topologyKey", "whenUnsatisfiable"]],
  conditions: [["type"]],
  ownerReferences: [["uid"]],
  hostAliases: [["ip"]],
};
/** Lists of scalars that are sets. */
const SET_LISTS = new Set(["finalizers"]);

/** Fields that are never owned: identity, and what the server maintains. */
const UNOWNED_METADATA = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "selfLink",
]);

const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function itemKey(field: string, item: Json): string | undefined {
  if (!isObject(item)) return undefined;
  for (const keys of LIST_KEYS[field] ?? []) {
    if (!keys.some((key) => key in item) || (keys[0] !== undefined && !(keys[0] in item))) continue;
    const key: JsonObject = {};
    for (const name of keys) {
      if (name in item) key[name] = item[name]!;
      else if (name === "protocol") key[name] = "TCP"; // defaulted before keys are computed
    }
    return `k:${JSON.stringify(key)}`;
  }
  return undefined;
}

function isMapList(field: string, list: Json[]): boolean {
  return field in LIST_KEYS && list.length > 0 && list.every((item) => itemKey(field, item) !== undefined);
}

/** Every owned path of an object: leaves, list items (k:…) and set members (v:…), as JSON arrays of segments. */
export function fieldSet(object: Json, root = true): Set<string> {
  const paths = new Set<string>();
  const walk = (value: Json, path: string[], field: string) => {
    if (isObject(value)) {
      const entries = Object.entries(value);
      if (entries.length === 0 && path.length > 0) paths.add(JSON.stringify(path));
      for (const [key, child] of entries) walk(child, [...path, `f:${key}`], key);
      return;
    }
    if (Array.isArray(value) && isMapList(field, value)) {
      for (const item of value) {
        const itemPath = [...path, itemKey(field, item)!];
        paths.add(JSON.stringify(itemPath));
        for (const [key, child] of Object.entries(item as JsonObject))
          walk(child, [...itemPath, `f:${key}`], key);
      }
      return;
    }
    if (Array.isArray(value) && SET_LISTS.has(field)) {
      for (const item of value) paths.add(JSON.stringify([...path, `v:${JSON.stringify(item)}`]));
      return;
    }
    paths.add(JSON.stringify(path));
  };
  if (isObject(object)) {
    for (const [key, child] of Object.entries(object)) {
      if (root && (key === "apiVersion" || key === "kind" || key === "status")) continue;
      if (root && key === "metadata" && isObject(child)) {
        for (const [metaKey, metaChild] of Object.entries(child)) {
          if (UNOWNED_METADATA.has(metaKey)) continue;
          walk(metaChild, ["f:metadata", `f:${metaKey}`], metaKey);
        }
        continue;
      }
      walk(child, [`f:${key}`], key);
    }
  }
  return paths;
}

/** The value at a path (undefined when absent). */
function valueAt(object: Json | undefined, path: string[]): Json | undefined {
  let cursor: Json | undefined = object;
  let field = "";
  for (const segment of path) {
    if (cursor === undefined) return undefined;
    if (segment.startsWith("f:")) {
      field = segment.slice(2);
      cursor = isObject(cursor) ? cursor[field] : undefined;
    } else if (segment.startsWith("k:")) {
      cursor = Array.isArray(cursor) ? cursor.find((item) => itemKey(field, item) === segment) : undefined;
    } else if (segment.startsWith("v:")) {
      const member = JSON.parse(segment.slice(2)) as Json;
      return Array.isArray(cursor) && cursor.some((item) => JSON.stringify(item) === JSON.stringify(member))
        ? member
        : undefined;
    }
  }
  return cursor;
}

/** Removes a path; maps and lists emptied by the removal go too. */
function removeAt(object: JsonObject, path: string[]): void {
  // Each step: the container, the segment naming the child in it, and (for k:/v:) the list's field.
  const chain: { container: Json; segment: string; listField: string }[] = [];
  let cursor: Json | undefined = object;
  let field = "";
  for (const segment of path) {
    if (cursor === undefined) return;
    chain.push({ container: cursor, segment, listField: field });
    if (segment.startsWith("f:")) {
      field = segment.slice(2);
      cursor = isObject(cursor) ? cursor[field] : undefined;
    } else if (segment.startsWith("k:")) {
      cursor = Array.isArray(cursor) ? cursor.find((item) => itemKey(field, item) === segment) : undefined;
    } else cursor = undefined;
  }
  for (let i = chain.length - 1; i >= 0; i--) {
    const { container, segment, listField } = chain[i]!;
    if (segment.startsWith("f:") && isObject(container)) {
      if (i < chain.length - 1 && !isEmpty(container[segment.slice(2)])) return;
      delete container[segment.slice(2)];
    } else if (Array.isArray(container)) {
      const index = container.findIndex((item) =>
        segment.startsWith("v:")
          ? JSON.stringify(item) === segment.slice(2)
          : itemKey(listField, item) === segment,
      );
      if (index < 0) return;
      if (i < chain.length - 1 && !isEmpty(container[index])) return;
      container.splice(index, 1);
    } else return;
  }
}

const isEmpty = (value: Json | undefined) =>
  value === undefined ||
  (isObject(value) && Object.keys(value).length === 0) ||
  (Array.isArray(value) && value.length === 0);

/** Merges an applied configuration into the live object: maps by key, map lists by item key, the rest replaced. */
function merge(live: Json | undefined, applied: Json, field: string): Json {
  if (isObject(applied)) {
    const result: JsonObject = isObject(live) ? { ...live } : {};
    for (const [key, value] of Object.entries(applied)) result[key] = merge(result[key], value, key);
    return result;
  }
  if (Array.isArray(applied) && isMapList(field, applied) && Array.isArray(live)) {
    const result = [...live];
    const order: Json[] = [];
    for (const item of applied) {
      const key = itemKey(field, item)!;
      const index = result.findIndex((existing) => itemKey(field, existing) === key);
      if (index >= 0) {
        order.push(merge(result[index], item, field));
        result.splice(index, 1);
      } else order.push(item);
    }
    return [...order, ...result]; // the applier's items first, in its order, then the others'
  }
  if (Array.isArray(applied) && SET_LISTS.has(field) && Array.isArray(live)) {
    const seen = new Set(applied.map((item) => JSON.stringify(item)));
    return [...applied, ...live.filter((item) => !seen.has(JSON.stringify(item)))];
  }
  return applied;
}

interface ManagedFieldsEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  fieldsType: "FieldsV1";
  fieldsV1: JsonObject;
  subresource?: string;
}

/** FieldsV1 (nested "f:…", "k:…", "v:…" objects, "." for an owned list item) from a set of paths. */
function toFieldsV1(paths: Set<string>): JsonObject {
  const root: JsonObject = {};
  for (const encoded of paths) {
    const path = JSON.parse(encoded) as string[];
    let cursor = root;
    for (const segment of path) cursor = (cursor[segment] ??= {}) as JsonObject;
    if (path[path.length - 1]!.startsWith("k:")) cursor["."] = {};
  }
  return root;
}

function fromFieldsV1(fields: JsonObject, prefix: string[] = [], out = new Set<string>()): Set<string> {
  for (const [segment, child] of Object.entries(fields)) {
    if (segment === ".") {
      out.add(JSON.stringify(prefix));
      continue;
    }
    const path = [...prefix, segment];
    if (isObject(child) && Object.keys(child).length > 0) fromFieldsV1(child, path, out);
    else out.add(JSON.stringify(path));
  }
  return out;
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

function entries(object: KubeObject | undefined): ManagedFieldsEntry[] {
  return ((object?.metadata.managedFields as ManagedFieldsEntry[] | undefined) ?? []).filter(
    (entry) => entry.subresource === undefined,
  );
}

function ownership(
  object: KubeObject | undefined,
): Map<string, { paths: Set<string>; entry: ManagedFieldsEntry }> {
  const owners = new Map<string, { paths: Set<string>; entry: ManagedFieldsEntry }>();
  for (const entry of entries(object))
    owners.set(`${entry.manager}\n${entry.operation}`, { paths: fromFieldsV1(entry.fieldsV1), entry });
  return owners;
}

function writeOwnership(
  object: KubeObject,
  owners: Map<string, { paths: Set<string>; entry: ManagedFieldsEntry }>,
  previous: KubeObject | undefined,
): void {
  const subresources = ((previous?.metadata.managedFields as ManagedFieldsEntry[] | undefined) ?? []).filter(
    (entry) => entry.subresource !== undefined,
  );
  const list: ManagedFieldsEntry[] = [];
  for (const { paths, entry } of owners.values()) {
    if (paths.size === 0) continue;
    list.push({ ...entry, fieldsV1: toFieldsV1(paths) });
  }
  object.metadata.managedFields = [...list, ...subresources];
}

/**
 * Server-side apply of `applied` by `manager` onto `live` (undefined: the object is created).
 * Returns the new object, its managedFields set.
 */
export function serverSideApply(
  live: KubeObject | undefined,
  applied: KubeObject,
  manager: string,
  force: boolean,
): KubeObject {
  const owners = ownership(live);
  const appliedPaths = fieldSet(applied as unknown as Json);
  const liveJson = (live ?? {}) as unknown as Json;
  const conflicts: string[] = [];
  for (const [ownerKey, owner] of owners) {
    if (ownerKey === `${manager}\nApply`) continue;
    for (const path of appliedPaths) {
      if (!owner.paths.has(path)) continue;
      const segments = JSON.parse(path) as string[];
      const same =
        JSON.stringify(valueAt(liveJson, segments)) ===
        JSON.stringify(valueAt(applied as unknown as Json, segments));
      if (same) continue; // both own it: shared ownership
      if (force) owner.paths.delete(path);
      else conflicts.push(`conflict with "${owner.entry.manager}": ${readable(segments)}`);
    }
  }
  if (conflicts.length > 0)
    throw new ApiError(
      409,
      "Conflict",
      `Apply failed with ${conflicts.length} conflict(s): ${conflicts.join("; ")}`,
    );

  const mine = owners.get(`${manager}\nApply`)?.paths ?? new Set<string>();
  const result = structuredClone(
    (live ?? { apiVersion: applied.apiVersion, kind: applied.kind, metadata: {} }) as KubeObject,
  );
  // Fields this manager applied before and no longer applies, owned by nobody else, are removed.
  const ownedByOthers = (path: string) =>
    [...owners].some(
      ([key, owner]) =>
        key !== `${manager}\nApply` &&
        [...owner.paths].some((p) => p === path || p.startsWith(path.slice(0, -1) + ",")),
    );
  const removed = [...mine].filter((path) => !appliedPaths.has(path) && !ownedByOthers(path));
  // Deepest first, so that an item's fields go before the item.
  removed.sort((a, b) => JSON.parse(b).length - JSON.parse(a).length);
  for (const path of removed) removeAt(result as unknown as JsonObject, JSON.parse(path) as string[]);
  const { metadata: appliedMeta, ...appliedBody } = applied;
  const merged = merge(
    result as unknown as Json,
    appliedBody as unknown as Json,
    "",
  ) as unknown as KubeObject;
  merged.metadata = merge(
    result.metadata as unknown as Json,
    appliedMeta as unknown as Json,
    "metadata",
  ) as never;

  const before = owners.get(`${manager}\nApply`);
  const changed = !before || !sameSet(before.paths, appliedPaths);
  owners.set(`${manager}\nApply`, {
    paths: appliedPaths,
    entry:
      before && !changed
        ? before.entry
        : {
            manager,
            operation: "Apply",
            apiVersion: applied.apiVersion,
            time: now(),
            fieldsType: "FieldsV1",
            fieldsV1: {},
          },
  });
  writeOwnership(merged, owners, live);
  return merged;
}

/** An update (create, PUT, merge or strategic patch) by `manager`: it owns the fields it changed. */
export function recordUpdate(previous: KubeObject | undefined, next: KubeObject, manager: string): void {
  const owners = ownership(previous);
  const nextPaths = fieldSet(next as unknown as Json);
  const previousJson = (previous ?? {}) as unknown as Json;
  const changed = [...nextPaths].filter((path) => {
    const segments = JSON.parse(path) as string[];
    return (
      JSON.stringify(valueAt(previousJson, segments)) !==
      JSON.stringify(valueAt(next as unknown as Json, segments))
    );
  });
  for (const owner of owners.values()) {
    for (const path of [...owner.paths]) {
      // Fields that are gone belong to nobody; changed ones now belong to the updater.
      if (!nextPaths.has(path) || changed.includes(path)) owner.paths.delete(path);
    }
  }
  if (changed.length > 0) {
    const key = `${manager}\nUpdate`;
    const existing = owners.get(key);
    const paths = existing?.paths ?? new Set<string>();
    for (const path of changed) paths.add(path);
    owners.set(key, {
      paths,
      entry: {
        manager,
        operation: "Update",
        apiVersion: next.apiVersion,
        time: now(),
        fieldsType: "FieldsV1",
        fieldsV1: {},
      },
    });
  }
  // Timestamps move only for managers whose fields changed.
  writeOwnership(next, owners, previous);
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((item) => b.has(item));
}

function readable(segments: string[]): string {
  return segments.map((s) => (s.startsWith("f:") ? `.${s.slice(2)}` : `[${s.slice(2)}]`)).join("");
}

/**
 * A strategic merge patch as Kubernetes applies it to the built-in types: maps merged, map lists
 * merged by their keys, `null` deletes, other lists replaced.
 */
export function strategicMergePatch(target: Json | undefined, patch: Json, field = ""): Json | undefined {
  if (patch === null) return undefined;
  if (isObject(patch)) {
    const result: JsonObject = isObject(target) ? { ...target } : {};
    for (const [key, value] of Object.entries(patch)) {
      if (key.startsWith("$")) continue; // directives ($patch, $retainKeys, …) are not needed here
      const merged = strategicMergePatch(result[key], value, key);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    }
    return result;
  }
  if (Array.isArray(patch) && Array.isArray(target) && isMapList(field, patch) && isMapList(field, target)) {
    const result = [...target];
    for (const item of patch) {
      const index = result.findIndex((existing) => itemKey(field, existing) === itemKey(field, item));
      if (index >= 0) result[index] = strategicMergePatch(result[index], item, field)!;
      else result.push(item);
    }
    return result;
  }
  return patch;
}
