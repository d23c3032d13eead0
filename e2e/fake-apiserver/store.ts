// The FAKE Kubernetes API server's storage: objects by resource, one global resourceVersion, an
// event history for watches (compactable, so that old versions answer 410 Gone), generation bumps
// on spec changes, finalizers and owner-reference garbage collection. Test-only; never in production.
import { randomUUID } from "node:crypto";

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    labels?: Record<string, string>;
    ownerReferences?: { uid: string }[];
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  resource: string;
  object: KubeObject;
  rv: number;
}

/** An API error with the Kubernetes Status reason and HTTP code. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const clone = <T>(value: T): T => structuredClone(value);

function specPart(object: KubeObject): string {
  const { metadata: _m, status: _s, ...rest } = object;
  return JSON.stringify(rest);
}

export class Store {
  /** resource ("apps/deployments") → "namespace/name" → object */
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private history: WatchEvent[] = [];
  private revision = 1;
  /** Oldest resourceVersion a watch may start from; older ones are 410 Gone. */
  private compactedTo = 0;
  private readonly listeners = new Set<(event: WatchEvent) => void>();

  get resourceVersion(): string {
    return String(this.revision);
  }

  private bucket(resource: string): Map<string, KubeObject> {
    let bucket = this.objects.get(resource);
    if (!bucket) this.objects.set(resource, (bucket = new Map()));
    return bucket;
  }

  private emit(type: WatchEvent["type"], resource: string, object: KubeObject): void {
    const event = { type, resource, object: clone(object), rv: this.revision };
    this.history.push(event);
    for (const listener of this.listeners) listener(event);
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject {
    const object = this.bucket(resource).get(`${namespace ?? ""}/${name}`);
    if (!object) throw new ApiError(404, "NotFound", `${resource.split("/").pop()} "${name}" not found`);
    return clone(object);
  }

  list(resource: string, namespace: string | undefined): KubeObject[] {
    return [...this.bucket(resource).values()]
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .map(clone);
  }

  create(resource: string, object: KubeObject, generation: boolean): KubeObject {
    const key = `${object.metadata.namespace ?? ""}/${object.metadata.name}`;
    if (this.bucket(resource).has(key))
      throw new ApiError(
        409,
        "AlreadyExists",
        `${resource.split("/").pop()} "${object.metadata.name}" already exists`,
      );
    const stored = clone(object);
    this.revision++;
    stored.metadata.uid = randomUUID();
    stored.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    stored.metadata.resourceVersion = this.resourceVersion;
    delete stored.metadata.deletionTimestamp;
    if (generation) stored.metadata.generation = 1;
    this.bucket(resource).set(key, stored);
    this.emit("ADDED", resource, stored);
    return clone(stored);
  }

  /** Replaces an object; a stale resourceVersion is a 409 Conflict, as on a real API server. */
  update(resource: string, object: KubeObject, generation: boolean): KubeObject {
    const key = `${object.metadata.namespace ?? ""}/${object.metadata.name}`;
    const current = this.bucket(resource).get(key);
    if (!current)
      throw new ApiError(404, "NotFound", `${resource.split("/").pop()} "${object.metadata.name}" not found`);
    const given = object.metadata.resourceVersion;
    if (given !== undefined && given !== "" && given !== current.metadata.resourceVersion) {
      throw new ApiError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${resource.split("/").pop()} "${object.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const stored = clone(object);
    stored.metadata.uid = current.metadata.uid;
    stored.metadata.creationTimestamp = current.metadata.creationTimestamp;
    if (current.metadata.deletionTimestamp)
      stored.metadata.deletionTimestamp = current.metadata.deletionTimestamp;
    if (generation)
      stored.metadata.generation =
        (current.metadata.generation ?? 1) + (specPart(current) === specPart(stored) ? 0 : 1);
    if (
      JSON.stringify({ ...stored, metadata: { ...stored.metadata, resourceVersion: "" } }) ===
      JSON.stringify({ ...current, metadata: { ...current.metadata, resourceVersion: "" } })
    ) {
      return clone(current); // a no-op update does not bump resourceVersion (as on a real server)
    }
    this.revision++;
    stored.metadata.resourceVersion = this.resourceVersion;
    if (stored.metadata.deletionTimestamp && (stored.metadata.finalizers ?? []).length === 0) {
      this.bucket(resource).delete(key);
      this.emit("DELETED", resource, stored);
      this.collectGarbage(stored.metadata.uid!);
      return clone(stored);
    }
    this.bucket(resource).set(key, stored);
    this.emit("MODIFIED", resource, stored);
    return clone(stored);
  }

  /** Deletes, or marks for deletion while finalizers remain. Dependents are garbage-collected. */
  delete(resource: string, namespace: string | undefined, name: string): KubeObject {
    const current = this.get(resource, namespace, name);
    if ((current.metadata.finalizers ?? []).length > 0) {
      if (current.metadata.deletionTimestamp) return current;
      this.revision++;
      current.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      current.metadata.resourceVersion = this.resourceVersion;
      this.bucket(resource).set(`${namespace ?? ""}/${name}`, current);
      this.emit("MODIFIED", resource, current);
      return clone(current);
    }
    this.revision++;
    current.metadata.resourceVersion = this.resourceVersion;
    this.bucket(resource).delete(`${namespace ?? ""}/${name}`);
    this.emit("DELETED", resource, current);
    this.collectGarbage(current.metadata.uid!);
    return current;
  }

  private collectGarbage(ownerUid: string): void {
    for (const [resource, bucket] of this.objects) {
      for (const object of [...bucket.values()]) {
        if ((object.metadata.ownerReferences ?? []).some((ref) => ref.uid === ownerUid)) {
          this.delete(resource, object.metadata.namespace, object.metadata.name);
        }
      }
    }
  }

  /** Events after `resourceVersion`, or 410 Gone when the history no longer reaches back that far. */
  eventsSince(resource: string, resourceVersion: number): WatchEvent[] {
    if (resourceVersion < this.compactedTo) {
      throw new ApiError(
        410,
        "Expired",
        `too old resource version: ${resourceVersion} (${this.compactedTo})`,
      );
    }
    return this.history.filter((e) => e.resource === resource && e.rv > resourceVersion).map(clone);
  }

  /** Forgets the watch history, as etcd compaction does: older versions then answer 410 Gone. */
  compact(): void {
    this.history = [];
    this.compactedTo = this.revision;
  }

  subscribe(listener: (event: WatchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
