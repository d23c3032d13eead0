// The operator's view of the Kubernetes API, on @kubernetes/client-node: generic object CRUD,
// the NotificationService status subresource, and list+watch informers that re-list after a watch
// error or 410 Gone. Everything else in the operator talks to this module only.
import {
  ApiException,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  Watch,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { GROUP, PLURAL, VERSION, type NotificationServiceStatus } from "./spec.js";

export type KubeObject = KubernetesObject & { [field: string]: unknown };

export function statusCode(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { code?: unknown; statusCode?: unknown } | undefined)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

export const isNotFound = (error: unknown) => statusCode(error) === 404;
export const isConflict = (error: unknown) => statusCode(error) === 409;

/** A readable one-line reason for a failed API call (the Status message when there is one). */
export function describeError(error: unknown): string {
  if (error instanceof ApiException) {
    const body = error.body as unknown;
    try {
      const parsed = (typeof body === "string" ? JSON.parse(body) : body) as { message?: string };
      if (parsed?.message) return `${parsed.message} (HTTP ${error.code})`;
    } catch {
      // not a Status body: fall through to the plain message
    }
    return `HTTP ${error.code}`;
  }
  return error instanceof Error ? error.message : String(error);
}

export class KubeClient {
  private readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;

  constructor(readonly config: KubeConfig) {
    this.objects = KubernetesObjectApi.makeApiClient(config);
    this.custom = config.makeApiClient(CustomObjectsApi);
  }

  static fromEnvironment(): KubeClient {
    const config = new KubeConfig();
    config.loadFromDefault(); // KUBECONFIG, ~/.kube/config, or the in-cluster service account
    return new KubeClient(config);
  }

  async read(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
  ): Promise<KubeObject | undefined> {
    try {
      return (await this.objects.read({ apiVersion, kind, metadata: { name, namespace } })) as KubeObject;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async create(object: KubeObject): Promise<KubeObject> {
    return (await this.objects.create(object)) as KubeObject;
  }

  async replace(object: KubeObject): Promise<KubeObject> {
    return (await this.objects.replace(object)) as KubeObject;
  }

  /** Deletes; an object that is already gone is fine. */
  async delete(object: KubeObject): Promise<void> {
    try {
      await this.objects.delete(object);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async list(
    apiVersion: string,
    kind: string,
    namespace?: string,
    labelSelector?: string,
  ): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const list = await this.objects.list(
      apiVersion,
      kind,
      namespace,
      undefined,
      undefined,
      undefined,
      undefined,
      labelSelector,
    );
    return { items: list.items as KubeObject[], resourceVersion: list.metadata?.resourceVersion ?? "0" };
  }

  async replaceStatus(
    namespace: string,
    name: string,
    resourceVersion: string,
    status: NotificationServiceStatus,
  ): Promise<void> {
    await this.custom.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: "NotificationService",
        metadata: { name, namespace, resourceVersion },
        status,
      },
    });
  }
}

export interface InformerHandlers {
  /** An object was added, changed or deleted (after a re-list, every object is reported again). */
  changed(object: KubeObject, deleted: boolean): void;
  /** The watch broke; the informer resumes or re-lists after `retryMs`. */
  error(reason: string): void;
}

/** Collection path of a resource, e.g. /apis/apps/v1/namespaces/x/deployments. */
export function collectionPath(apiVersion: string, plural: string, namespace?: string): string {
  const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return `${base}${namespace ? `/namespaces/${namespace}` : ""}/${plural}`;
}

/**
 * List, then watch from the list's resourceVersion, as client-go's reflector does: a watch that
 * ends or loses its connection resumes from the last version seen; an ERROR event (410 Gone when
 * that version was compacted away) leads to a fresh list, and objects that vanished meanwhile are
 * reported deleted, so nothing is missed across an API server restart.
 */
export class Informer {
  readonly cache = new Map<string, KubeObject>();
  private abort: AbortController | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private resourceVersion = "0";
  /** Since when this informer has had neither a successful list nor an established watch. */
  private failingSince: number | undefined = Date.now();

  constructor(
    private readonly client: KubeClient,
    private readonly resource: {
      apiVersion: string;
      kind: string;
      plural: string;
      namespace?: string;
      labelSelector?: string;
    },
    private readonly handlers: InformerHandlers,
    private readonly options: {
      retryMs?: number;
      /** Cache (and report) only apiVersion, kind and metadata: a Secret's data never stays in memory. */
      metadataOnly?: boolean;
    } = {},
  ) {}

  private kept(object: KubeObject): KubeObject {
    if (!this.options.metadataOnly) return object;
    return { apiVersion: object.apiVersion, kind: object.kind, metadata: object.metadata };
  }

  start(): void {
    this.failingSince = Date.now();
    void this.relist();
  }

  /** Why this informer is not in sync with the API server, failing for `ms` or longer; undefined when it is. */
  outOfSync(now: number, ms: number): string | undefined {
    if (this.failingSince === undefined || now - this.failingSince < ms) return undefined;
    return `${this.resource.plural}: no successful list or watch for ${Math.round((now - this.failingSince) / 1000)} s`;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort?.abort();
  }

  private retry(next: "relist" | "watch", reason: string): void {
    if (this.stopped) return;
    this.failingSince ??= Date.now();
    this.handlers.error(reason);
    this.timer = setTimeout(
      () => void (next === "relist" ? this.relist() : this.watch()),
      this.options.retryMs ?? 1000,
    );
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    const { apiVersion, kind, plural, namespace, labelSelector } = this.resource;
    let listed: { items: KubeObject[]; resourceVersion: string };
    try {
      listed = await this.client.list(apiVersion, kind, namespace, labelSelector);
    } catch (error) {
      return this.retry("relist", `list ${plural} failed: ${describeError(error)}`);
    }
    const seen = new Set<string>();
    for (const listedItem of listed.items) {
      const item = this.kept(listedItem);
      const key = objectKey(item);
      seen.add(key);
      this.cache.set(key, item);
      this.handlers.changed(item, false);
    }
    for (const [key, object] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.handlers.changed(object, true);
      }
    }
    this.resourceVersion = listed.resourceVersion;
    this.failingSince = undefined;
    await this.watch();
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    const { apiVersion, plural, namespace, labelSelector } = this.resource;
    let ended = false;
    const end = (next: "relist" | "watch", reason: string) => {
      if (ended) return;
      ended = true;
      this.abort?.abort();
      this.retry(next, reason);
    };
    this.abort = await new Watch(this.client.config).watch(
      collectionPath(apiVersion, plural, namespace),
      { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, labelSelector },
      (type, received: KubeObject) => {
        if (ended) return;
        const object = type === "ERROR" ? received : this.kept(received);
        if (type === "ERROR") {
          const status = object as { message?: string; code?: number };
          return end("relist", `watch ${plural}: ${status.message ?? "error"} (code ${String(status.code)})`);
        }
        if (object.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
        if (type === "BOOKMARK") return;
        const key = objectKey(object);
        if (type === "DELETED") this.cache.delete(key);
        else this.cache.set(key, object);
        this.handlers.changed(object, type === "DELETED");
      },
      // An HTTP error answer (410 Gone among them) needs a fresh list; a dropped connection resumes.
      (error: unknown) =>
        end(
          statusCode(error) === undefined ? "watch" : "relist",
          `watch ${plural} ended${error ? `: ${describeError(error)}` : ""}`,
        ),
    );
    // Established (the API server answered 200): in sync again, even if no event comes for long.
    if (!ended) this.failingSince = undefined;
  }
}

export function objectKey(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}
