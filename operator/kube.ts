// The operator's view of the Kubernetes API, on @kubernetes/client-node: generic object CRUD,
// the NotificationService status subresource, and list+watch informers that re-list after a watch
// error or 410 Gone. Everything else in the operator talks to this module only.
import {
  ApiException,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  type KubernetesObject,
} from "@kubernetes/client-node";
import fetch from "node-fetch";
import { GROUP, PLURAL, VERSION, type NotificationServiceStatus } from "./spec.js";

export type KubeObject = KubernetesObject & { [field: string]: unknown };

/** The field manager of everything the operator writes (server-side apply, status updates). */
export const FIELD_MANAGER = "herald-operator";

/** Accept headers of metadata-only lists and watches: the API server sends no data (no Secret values). */
const METADATA_LIST =
  "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1beta1";
const METADATA_WATCH =
  "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1";

/** A KubeConfig whose requests ask for metadata only (for Watch, which takes no headers). */
function withAccept(config: KubeConfig, accept: string): KubeConfig {
  const wrapped = Object.create(config) as KubeConfig;
  wrapped.applyToFetchOptions = async (options) => {
    const init = await config.applyToFetchOptions(options);
    return { ...init, headers: { ...(init.headers as Record<string, string>), Accept: accept } };
  };
  return wrapped;
}

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
    return (await this.objects.replace(object, undefined, undefined, FIELD_MANAGER)) as KubeObject;
  }

  /**
   * Server-side apply as FIELD_MANAGER: the API server merges exactly the fields given, removes the
   * ones this manager set before and no longer gives, and keeps every field other managers own
   * (`kubectl rollout restart`'s annotation, an HPA's replicas). Creates the object when missing.
   * `force`: the operator's fields are its own; a conflicting change by hand is taken back.
   */
  async apply(object: KubeObject, fieldManager = FIELD_MANAGER, force = true): Promise<KubeObject> {
    return (await this.objects.patch(
      object,
      undefined,
      undefined,
      fieldManager,
      force,
      PatchStrategy.ServerSideApply,
    )) as KubeObject;
  }

  /**
   * Replaces an object's managedFields (a merge patch guarded by its resourceVersion): how field
   * ownership moves from one manager to another. Nothing else of the object changes.
   */
  async replaceManagedFields(object: KubeObject, managedFields: unknown[]): Promise<KubeObject> {
    return (await this.objects.patch(
      {
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: {
          name: object.metadata?.name,
          namespace: object.metadata?.namespace,
          resourceVersion: object.metadata?.resourceVersion,
          managedFields,
        },
      } as KubeObject,
      undefined,
      undefined,
      FIELD_MANAGER,
      undefined,
      PatchStrategy.MergePatch,
    )) as KubeObject;
  }

  /** Whether the API server serves this resource (e.g. the Gateway API's CRDs are installed). */
  async serves(apiVersion: string, plural: string): Promise<boolean> {
    const path = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const response = await this.request(path, "application/json");
    if (response.status === 404) return false;
    if (response.status !== 200) throw new Error(`discovery of ${apiVersion}: HTTP ${response.status}`);
    const list = (await response.json()) as { resources?: { name: string }[] };
    return (list.resources ?? []).some((r) => r.name === plural);
  }

  /** A GET with an Accept header, authenticated as the client's other requests. */
  private async request(path: string, accept: string) {
    const cluster = this.config.getCurrentCluster();
    if (!cluster) throw new Error("no current cluster in the kubeconfig");
    const init = await withAccept(this.config, accept).applyToFetchOptions({});
    return fetch(`${cluster.server}${path}`, { ...init, method: "GET" } as never);
  }

  /** Lists objects' metadata only (PartialObjectMetadataList): for Secrets, no value leaves the API server. */
  async listMetadata(
    apiVersion: string,
    plural: string,
    namespace?: string,
  ): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const response = await this.request(collectionPath(apiVersion, plural, namespace), METADATA_LIST);
    const body = (await response.json()) as {
      items?: KubeObject[];
      metadata?: { resourceVersion?: string };
      message?: string;
    };
    if (response.status !== 200) {
      const error = new Error(`${body.message ?? "list failed"} (HTTP ${response.status})`);
      (error as Error & { statusCode: number }).statusCode = response.status;
      throw error;
    }
    return { items: body.items ?? [], resourceVersion: body.metadata?.resourceVersion ?? "0" };
  }

  /** The same client asking for metadata-only watch events. */
  metadataWatchConfig(): KubeConfig {
    return withAccept(this.config, METADATA_WATCH);
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
      fieldManager: FIELD_MANAGER,
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
      /**
       * List and watch metadata only (PartialObjectMetadata): a Secret's data is never sent to the
       * operator, let alone kept in memory.
       */
      metadataOnly?: boolean;
    } = {},
  ) {}

  private kept(object: KubeObject): KubeObject {
    if (!this.options.metadataOnly) return object;
    // PartialObjectMetadata carries meta.k8s.io's apiVersion and kind: report the resource's own.
    return { apiVersion: this.resource.apiVersion, kind: this.resource.kind, metadata: object.metadata };
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
      listed = this.options.metadataOnly
        ? await this.client.listMetadata(apiVersion, plural, namespace)
        : await this.client.list(apiVersion, kind, namespace, labelSelector);
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
    const config = this.options.metadataOnly ? this.client.metadataWatchConfig() : this.client.config;
    this.abort = await new Watch(config).watch(
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
