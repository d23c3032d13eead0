// A FAKE Kubernetes API server for tests (no real one can run on these machines). It keeps the
// REST semantics the operator and real kubectl rely on: discovery, get/list/watch (410 Gone for
// compacted versions), create/replace/merge-patch/delete, 409 conflicts, status and scale
// subresources, generation bumps, finalizers, owner-reference garbage collection, and custom
// resources defaulted and validated against their CRD's own OpenAPI schema. Test-only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Ajv, type ValidateFunction } from "ajv";
import { parse as parseYaml } from "yaml";
import { celViolations } from "./cel.js";
import { decodeProtobuf } from "./protobuf.js";
import { recordUpdate, serverSideApply, strategicMergePatch } from "./managed-fields.js";
import { ApiError, Store, type KubeObject, type WatchEvent } from "./store.js";

interface ResourceType {
  group: string; // "" for the core group
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Spec changes bump metadata.generation. */
  generation: boolean;
  status: boolean;
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
  shortNames?: string[];
  printerColumns?: PrinterColumn[];
  validate?: ValidateFunction;
  /** The CRD's schema, for its CEL rules (x-kubernetes-validations). */
  schema?: object;
}

interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  priority?: number;
}

const BUILT_IN: ResourceType[] = [
  {
    group: "",
    version: "v1",
    plural: "namespaces",
    kind: "Namespace",
    namespaced: false,
    generation: false,
    status: true,
  },
  {
    group: "",
    version: "v1",
    plural: "configmaps",
    kind: "ConfigMap",
    namespaced: true,
    generation: false,
    status: false,
  },
  {
    group: "",
    version: "v1",
    plural: "secrets",
    kind: "Secret",
    namespaced: true,
    generation: false,
    status: false,
  },
  {
    group: "",
    version: "v1",
    plural: "services",
    kind: "Service",
    namespaced: true,
    generation: false,
    status: true,
  },
  {
    group: "",
    version: "v1",
    plural: "events",
    kind: "Event",
    namespaced: true,
    generation: false,
    status: false,
  },
  {
    group: "",
    version: "v1",
    plural: "pods",
    kind: "Pod",
    namespaced: true,
    generation: false,
    status: true,
  },
  {
    group: "apps",
    version: "v1",
    plural: "deployments",
    kind: "Deployment",
    namespaced: true,
    generation: true,
    status: true,
    scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas" },
  },
  {
    group: "policy",
    version: "v1",
    plural: "poddisruptionbudgets",
    kind: "PodDisruptionBudget",
    namespaced: true,
    generation: true,
    status: true,
  },
  {
    group: "autoscaling",
    version: "v2",
    plural: "horizontalpodautoscalers",
    kind: "HorizontalPodAutoscaler",
    namespaced: true,
    generation: false,
    status: true,
  },
  {
    group: "networking.k8s.io",
    version: "v1",
    plural: "ingresses",
    kind: "Ingress",
    namespaced: true,
    generation: true,
    status: true,
  },
  {
    group: "",
    version: "v1",
    plural: "serviceaccounts",
    kind: "ServiceAccount",
    namespaced: true,
    generation: false,
    status: false,
  },
  ...(["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"] as const).map((kind) => ({
    group: "rbac.authorization.k8s.io",
    version: "v1",
    plural: `${kind.toLowerCase()}s`,
    kind,
    namespaced: !kind.startsWith("Cluster"),
    generation: false,
    status: false,
  })),
  {
    group: "batch",
    version: "v1",
    plural: "jobs",
    kind: "Job",
    namespaced: true,
    generation: true,
    status: true,
  },
  {
    group: "gateway.networking.k8s.io",
    version: "v1",
    plural: "httproutes",
    kind: "HTTPRoute",
    namespaced: true,
    generation: true,
    status: true,
  },
  {
    group: "coordination.k8s.io",
    version: "v1",
    plural: "leases",
    kind: "Lease",
    namespaced: true,
    generation: false,
    status: false,
  },
  {
    group: "events.k8s.io",
    version: "v1",
    plural: "events",
    kind: "Event",
    namespaced: true,
    generation: false,
    status: false,
  },
  {
    group: "apiextensions.k8s.io",
    version: "v1",
    plural: "customresourcedefinitions",
    kind: "CustomResourceDefinition",
    namespaced: false,
    generation: true,
    status: true,
  },
];

const resourceKey = (type: ResourceType) => `${type.group}/${type.plural}`;
const groupVersion = (type: ResourceType) => (type.group ? `${type.group}/${type.version}` : type.version);

function getPath(object: unknown, path: string): unknown {
  return path
    .split(".")
    .filter(Boolean)
    .reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], object);
}
function setPath(object: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".").filter(Boolean);
  let cursor = object;
  for (const key of keys.slice(0, -1)) cursor = (cursor[key] ??= {}) as Record<string, unknown>;
  cursor[keys[keys.length - 1]!] = value;
}

/** RFC 7386 JSON merge patch (also used, approximately, for strategic merge patches). */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    target && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** An object as a metadata-only client sees it. */
function partialMetadata(object: KubeObject): unknown {
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata };
}

/** Kubernetes' style of validation message, from ajv's errors. */
function validationMessage(type: ResourceType, name: string, validate: ValidateFunction): string {
  const details = (validate.errors ?? []).map((error) => {
    const path = error.instancePath.split("/").filter(Boolean).join(".");
    if (error.keyword === "required")
      return `${path ? `${path}.` : ""}${String(error.params.missingProperty)}: Required value`;
    if (error.keyword === "enum") {
      const allowed = (error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ");
      return `${path}: Unsupported value: ${JSON.stringify(error.data)}: supported values: ${allowed}`;
    }
    return `${path}: Invalid value: ${JSON.stringify(error.data)}: ${path} in body ${error.message}`;
  });
  return `${type.kind}.${type.group} "${name}" is invalid: ${details.join(", ")}`;
}

/** The JSONPath subset printer columns use: `.a.b`, `[?(@.key=="value")]`. */
function jsonPath(object: unknown, path: string): unknown {
  let values: unknown[] = [object];
  for (const [, field, filterKey, filterValue] of path.matchAll(
    /\.([A-Za-z0-9_-]+)|\[\?\(@\.([A-Za-z0-9_-]+)=="([^"]*)"\)\]/g,
  )) {
    if (field !== undefined) values = values.map((v) => (v as Record<string, unknown> | undefined)?.[field]);
    else
      values = values.flatMap((v) =>
        Array.isArray(v)
          ? v.filter((item) => (item as Record<string, unknown>)?.[filterKey!] === filterValue)
          : [],
      );
  }
  return values[0];
}

function age(timestamp: unknown): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(String(timestamp))) / 1000));
  return seconds < 120
    ? `${seconds}s`
    : seconds < 7200
      ? `${Math.floor(seconds / 60)}m`
      : `${Math.floor(seconds / 3600)}h`;
}

/** A meta.k8s.io Table, as kubectl asks for it: the CRD's printer columns, rendered by the server. */
function table(type: ResourceType, objects: KubeObject[], resourceVersion: string): unknown {
  const columns = type.printerColumns ?? [];
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion },
    columnDefinitions: [
      { name: "Name", type: "string", format: "name", description: "", priority: 0 },
      ...columns.map((c) => ({
        name: c.name,
        type: c.type === "date" ? "string" : c.type,
        format: "",
        description: "",
        priority: c.priority ?? 0,
      })),
    ],
    rows: objects.map((object) => ({
      cells: [
        object.metadata.name,
        ...columns.map((c) =>
          c.type === "date" ? age(jsonPath(object, c.jsonPath)) : (jsonPath(object, c.jsonPath) ?? null),
        ),
      ],
      object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata },
    })),
  };
}

/** One request as the server received it (for tests that check what a client asked for). */
export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  accept: string;
  contentType: string;
  userAgent: string;
}

export interface FakeApiServer {
  url: string;
  port: number;
  store: Store;
  /** Every request received, oldest first. */
  requests: RequestRecord[];
  /** Closes every connection (watches included) and the listener. */
  stop(): Promise<void>;
  /** Stops and starts again on the same port with the same objects; `compact` forgets watch history (old versions → 410). */
  restart(options?: { compact?: boolean }): Promise<void>;
  /**
   * While stalled, requests are accepted and never answered (a hung API server, or a partition
   * that keeps TCP open); un-stalling answers them as they are then.
   */
  stall(stalled: boolean): void;
}

export async function startFakeApiServer(
  options: {
    port?: number;
    /** Serve the Gateway API's HTTPRoute (as a cluster with its CRDs installed does); default true. */
    gatewayApi?: boolean;
  } = {},
): Promise<FakeApiServer> {
  const store = new Store();
  const types: ResourceType[] = BUILT_IN.filter(
    (t) => options.gatewayApi !== false || t.group !== "gateway.networking.k8s.io",
  );
  const requests: RequestRecord[] = [];
  const ajv = new Ajv({
    allErrors: true,
    strict: false,
    useDefaults: true,
    validateFormats: false,
    verbose: true,
  });

  // A created CustomResourceDefinition serves its resource, as on a real API server.
  store.subscribe((event) => {
    if (event.resource !== "apiextensions.k8s.io/customresourcedefinitions") return;
    const spec = event.object.spec as {
      group: string;
      scope: string;
      names: { plural: string; kind: string; shortNames?: string[] };
      versions: {
        name: string;
        schema?: { openAPIV3Schema: object };
        subresources?: { status?: object; scale?: ResourceType["scale"] };
        additionalPrinterColumns?: PrinterColumn[];
      }[];
    };
    for (let i = types.length - 1; i >= 0; i--)
      if (types[i]!.group === spec.group && types[i]!.plural === spec.names.plural) types.splice(i, 1);
    if (event.type === "DELETED") return;
    for (const version of spec.versions) {
      types.push({
        group: spec.group,
        version: version.name,
        plural: spec.names.plural,
        kind: spec.names.kind,
        namespaced: spec.scope === "Namespaced",
        generation: true,
        status: version.subresources?.status !== undefined,
        scale: version.subresources?.scale,
        shortNames: spec.names.shortNames,
        printerColumns: version.additionalPrinterColumns,
        validate: version.schema ? ajv.compile(version.schema.openAPIV3Schema) : undefined,
        schema: version.schema?.openAPIV3Schema,
      });
    }
  });

  const findType = (group: string, version: string, plural: string) =>
    types.find((t) => t.group === group && t.version === version && t.plural === plural);

  function discovery(path: string): unknown | undefined {
    if (path === "/version")
      return { major: "1", minor: "33", gitVersion: "v1.33.0-fake", platform: "linux/amd64" };
    if (path === "/api")
      return {
        kind: "APIVersions",
        apiVersion: "v1",
        versions: ["v1"],
        serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }],
      };
    if (path === "/apis") {
      const groups = new Map<string, Set<string>>();
      for (const t of types)
        if (t.group) (groups.get(t.group) ?? groups.set(t.group, new Set()).get(t.group)!).add(t.version);
      return {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: [...groups].map(([name, versions]) => {
          const list = [...versions].map((version) => ({ groupVersion: `${name}/${version}`, version }));
          return { name, versions: list, preferredVersion: list[0] };
        }),
      };
    }
    if (path === "/openapi/v3") {
      const paths: Record<string, { serverRelativeURL: string }> = {};
      for (const t of types) {
        const gvPath = t.group ? `apis/${t.group}/${t.version}` : "api/v1";
        paths[gvPath] = { serverRelativeURL: `/openapi/v3/${gvPath}` };
      }
      return { paths };
    }
    const openApi = path.startsWith("/openapi/v3/");
    const match = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(
      openApi ? path.slice("/openapi/v3".length) : path,
    );
    if (!match) return undefined;
    const [group, version] = match[1] ? ["", match[1]] : [match[2]!, match[3]!];
    const served = types.filter((t) => t.group === group && t.version === version);
    if (served.length === 0) return undefined;
    // Just enough OpenAPI v3 for kubectl to see that the server validates (fieldValidation), so
    // that it sends objects here instead of validating against schemas this fake does not serve.
    if (openApi) {
      return {
        openapi: "3.0.0",
        info: { title: "Kubernetes (fake)", version: "v1.33.0" },
        paths: Object.fromEntries(
          served.map((t) => [
            `/${match[1] ? "api/v1" : `apis/${group}/${version}`}${t.namespaced ? "/namespaces/{namespace}" : ""}/${t.plural}/{name}`,
            {
              patch: {
                "x-kubernetes-group-version-kind": { group, version, kind: t.kind },
                parameters: [{ name: "fieldValidation", in: "query", schema: { type: "string" } }],
                responses: {},
              },
            },
          ]),
        ),
        components: { schemas: {} },
      };
    }
    const verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
    return {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: group ? `${group}/${version}` : version,
      resources: served.flatMap((t) => [
        {
          name: t.plural,
          singularName: t.kind.toLowerCase(),
          namespaced: t.namespaced,
          kind: t.kind,
          verbs,
          ...(t.shortNames ? { shortNames: t.shortNames } : {}),
        },
        ...(t.status
          ? [
              {
                name: `${t.plural}/status`,
                singularName: "",
                namespaced: t.namespaced,
                kind: t.kind,
                verbs: ["get", "patch", "update"],
              },
            ]
          : []),
        ...(t.scale
          ? [
              {
                name: `${t.plural}/scale`,
                singularName: "",
                namespaced: t.namespaced,
                group: "autoscaling",
                version: "v1",
                kind: "Scale",
                verbs: ["get", "patch", "update"],
              },
            ]
          : []),
      ]),
    };
  }

  function prepare(
    type: ResourceType,
    object: KubeObject,
    namespace: string | undefined,
    old?: KubeObject,
  ): KubeObject {
    object.apiVersion = groupVersion(type);
    object.kind = type.kind;
    if (type.namespaced) object.metadata.namespace = namespace;
    else delete object.metadata.namespace;
    const name = object.metadata.name;
    // As a real API server does: a Secret's write-only stringData is merged into data, base64.
    if (type.kind === "Secret" && object.stringData) {
      const encoded = Object.entries(object.stringData as Record<string, string>).map(([key, value]) => [
        key,
        Buffer.from(value).toString("base64"),
      ]);
      object.data = {
        ...(object.data as Record<string, string> | undefined),
        ...Object.fromEntries(encoded),
      };
      delete object.stringData;
    }
    if (type.validate && !type.validate(object))
      throw new ApiError(422, "Invalid", validationMessage(type, name, type.validate));
    // CEL rules run on the defaulted object (transition rules with the stored one), as a real API server does.
    if (type.schema) {
      // The stored object as a real API server reads it from etcd: with the schema's defaults.
      const stored = old && structuredClone(old);
      if (stored) type.validate?.(stored);
      const problems = celViolations(type.schema, object, stored);
      if (problems.length > 0)
        throw new ApiError(
          422,
          "Invalid",
          `${type.kind}.${type.group} "${name}" is invalid: ${problems.join(", ")}`,
        );
    }
    // The built-in default the operator depends on: a Deployment without replicas has 1 (also
    // when an apply stops setting them and nobody else owns them).
    if (type.group === "apps" && type.kind === "Deployment") {
      const spec = (object.spec ??= {}) as { replicas?: number };
      spec.replicas ??= 1;
    }
    return object;
  }

  async function body(request: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    if ((request.headers["content-type"] ?? "").includes("vnd.kubernetes.protobuf")) {
      try {
        return decodeProtobuf(raw);
      } catch (error) {
        throw new ApiError(415, "UnsupportedMediaType", (error as Error).message);
      }
    }
    const text = raw.toString("utf8");
    if (!text) return undefined;
    try {
      // A server-side apply body is YAML (JSON is YAML too).
      if ((request.headers["content-type"] ?? "").includes("apply-patch+yaml")) return parseYaml(text);
      return JSON.parse(text);
    } catch {
      throw new ApiError(
        400,
        "BadRequest",
        "the request body is not JSON (the fake API server speaks JSON only)",
      );
    }
  }

  function send(response: ServerResponse, code: number, payload: unknown): void {
    response.writeHead(code, { "content-type": "application/json" });
    response.end(JSON.stringify(payload));
  }

  function matches(object: KubeObject, query: URLSearchParams): boolean {
    for (const term of (query.get("fieldSelector") ?? "").split(",").filter(Boolean)) {
      const [field, value] = term.split("=") as [string, string];
      if (String(getPath(object, `.${field}`)) !== value) return false;
    }
    for (const term of (query.get("labelSelector") ?? "").split(",").filter(Boolean)) {
      const [label, value] = term.split("=") as [string, string];
      if (object.metadata.labels?.[label] !== value) return false;
    }
    return true;
  }

  function watch(
    response: ServerResponse,
    type: ResourceType,
    namespace: string | undefined,
    query: URLSearchParams,
    metadataOnly = false,
  ): void {
    const inScope = (event: WatchEvent) =>
      (namespace === undefined || event.object.metadata.namespace === namespace) &&
      matches(event.object, query);
    const write = (event: WatchEvent) =>
      response.write(
        `${JSON.stringify({ type: event.type, object: metadataOnly ? partialMetadata(event.object) : event.object })}\n`,
      );
    response.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    // As a real API server: the 200 goes out at once, not with the first event (a quiet watch is established).
    response.flushHeaders();
    const since = query.get("resourceVersion");
    try {
      if (since && since !== "0") {
        for (const event of store.eventsSince(resourceKey(type), Number(since)))
          if (inScope(event)) write(event);
      } else {
        for (const object of store.list(resourceKey(type), namespace)) {
          if (matches(object, query)) write({ type: "ADDED", resource: resourceKey(type), object, rv: 0 });
        }
      }
      // A streaming list (sendInitialEvents, client-go's WatchList): the initial events end with a
      // bookmark annotated k8s.io/initial-events-end, which the client waits for to be in sync.
      if (query.get("sendInitialEvents") === "true")
        response.write(
          `${JSON.stringify({
            type: "BOOKMARK",
            object: {
              kind: type.kind,
              apiVersion: groupVersion(type),
              metadata: {
                resourceVersion: store.resourceVersion,
                annotations: { "k8s.io/initial-events-end": "true" },
              },
            },
          })}\n`,
        );
    } catch (error) {
      // A real API server answers a too-old watch with an ERROR event carrying 410.
      const e = error as ApiError;
      response.end(
        `${JSON.stringify({ type: "ERROR", object: { kind: "Status", apiVersion: "v1", status: "Failure", message: e.message, reason: e.reason, code: e.code } })}\n`,
      );
      return;
    }
    const unsubscribe = store.subscribe((event) => {
      if (event.resource === resourceKey(type) && inScope(event)) write(event);
    });
    const timeout = Number(query.get("timeoutSeconds") ?? 0);
    const timer = timeout > 0 ? setTimeout(() => response.end(), timeout * 1000) : undefined;
    response.on("close", () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
    });
  }

  /** The field manager of a write: ?fieldManager, else the client's user agent (up to its first /). */
  function fieldManager(request: IncomingMessage, url: URL): string {
    const given = url.searchParams.get("fieldManager");
    if (given) return given;
    return (request.headers["user-agent"] ?? "unknown").split("/")[0]!;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://fake");
    const path = url.pathname.replace(/\/$/, "");
    requests.push({
      method: request.method ?? "",
      path,
      query: url.search,
      accept: request.headers.accept ?? "",
      contentType: request.headers["content-type"] ?? "",
      userAgent: request.headers["user-agent"] ?? "",
    });
    if (request.method === "GET") {
      const document = discovery(path);
      if (document) return send(response, 200, document);
    }
    const match =
      /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/(status|scale))?$/.exec(
        path,
      );
    if (!match)
      throw new ApiError(404, "NotFound", `the server could not find the requested resource (${path})`);
    const [group, version] = match[1] ? ["", match[1]] : [match[2]!, match[3]!];
    let namespace = match[4];
    const plural = match[5]!;
    const name = match[6];
    const subresource = match[7];
    const type = findType(group, version, plural);
    if (!type)
      throw new ApiError(404, "NotFound", `the server could not find the requested resource (${path})`);
    if (!type.namespaced) namespace = undefined;
    const key = resourceKey(type);
    const wantsTable = (t: ResourceType) =>
      t.printerColumns !== undefined && (request.headers.accept ?? "").includes("as=Table");
    // Metadata-only (PartialObjectMetadata) answers: no spec, no data, as client-go's metadata client asks.
    const wantsMetadata = (request.headers.accept ?? "").includes("as=PartialObjectMetadata");

    if (name === undefined) {
      if (request.method === "GET") {
        if (url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1")
          return watch(response, type, namespace, url.searchParams, wantsMetadata);
        const items = store.list(key, namespace).filter((o) => matches(o, url.searchParams));
        if (wantsTable(type)) return send(response, 200, table(type, items, store.resourceVersion));
        if (wantsMetadata)
          return send(response, 200, {
            kind: "PartialObjectMetadataList",
            apiVersion: "meta.k8s.io/v1",
            metadata: { resourceVersion: store.resourceVersion },
            items: items.map(partialMetadata),
          });
        return send(response, 200, {
          kind: `${type.kind}List`,
          apiVersion: groupVersion(type),
          metadata: { resourceVersion: store.resourceVersion },
          items,
        });
      }
      if (request.method === "POST") {
        const object = (await body(request)) as KubeObject;
        if (!object?.metadata?.name)
          throw new ApiError(
            422,
            "Invalid",
            `${type.kind} is invalid: metadata.name: Required value: name is required`,
          );
        if (type.status) delete object.status;
        const prepared = prepare(type, object, namespace);
        recordUpdate(undefined, prepared, fieldManager(request, url));
        return send(response, 201, store.create(key, prepared, type.generation));
      }
      throw new ApiError(405, "MethodNotAllowed", `${request.method} is not supported on a collection`);
    }

    const current = () => store.get(key, namespace, name);
    if (subresource === "scale") {
      if (!type.scale) throw new ApiError(404, "NotFound", `${type.plural} has no scale subresource`);
      const scale = type.scale;
      const toScale = (object: KubeObject) => ({
        kind: "Scale",
        apiVersion: "autoscaling/v1",
        metadata: {
          name,
          namespace,
          uid: object.metadata.uid,
          resourceVersion: object.metadata.resourceVersion,
          creationTimestamp: object.metadata.creationTimestamp,
        },
        spec: { replicas: getPath(object, scale.specReplicasPath) ?? 0 },
        status: {
          replicas: getPath(object, scale.statusReplicasPath) ?? 0,
          ...(scale.labelSelectorPath ? { selector: getPath(object, scale.labelSelectorPath) } : {}),
        },
      });
      if (request.method === "GET") return send(response, 200, toScale(current()));
      if (request.method === "PUT" || request.method === "PATCH") {
        const given = (await body(request)) as {
          spec?: { replicas?: number };
          metadata?: { resourceVersion?: string };
        };
        const object = current();
        const scaleObject =
          request.method === "PUT" ? given : (mergePatch(toScale(object), given) as typeof given);
        const replicas = scaleObject.spec?.replicas;
        if (!Number.isInteger(replicas) || replicas! < 0)
          throw new ApiError(
            422,
            "Invalid",
            `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
          );
        setPath(object, scale.specReplicasPath, replicas);
        if (request.method === "PUT" && scaleObject.metadata?.resourceVersion)
          object.metadata.resourceVersion = scaleObject.metadata.resourceVersion;
        return send(
          response,
          200,
          toScale(store.update(key, prepare(type, object, namespace), type.generation)),
        );
      }
      throw new ApiError(405, "MethodNotAllowed", `${request.method} is not supported on scale`);
    }

    switch (request.method) {
      case "GET":
        return send(
          response,
          200,
          wantsTable(type) ? table(type, [current()], store.resourceVersion) : current(),
        );
      case "PUT":
      case "PATCH": {
        const given = await body(request);
        const contentType = request.headers["content-type"] ?? "";
        const manager = fieldManager(request, url);
        if (request.method === "PATCH" && contentType.includes("apply-patch+yaml")) {
          // Server-side apply: creates the object when it is missing.
          const applied = given as KubeObject | undefined;
          if (!applied?.metadata || applied.apiVersion === undefined || applied.kind === undefined)
            throw new ApiError(
              400,
              "BadRequest",
              "an applied configuration needs apiVersion, kind and metadata",
            );
          if (subresource === "status")
            throw new ApiError(415, "UnsupportedMediaType", "apply to status is not supported here");
          let existing: KubeObject | undefined;
          try {
            existing = current();
          } catch (error) {
            if (!(error instanceof ApiError && error.code === 404)) throw error;
          }
          const { status: _ignored, ...config } = applied;
          config.metadata = { ...applied.metadata, name: name! };
          const force = url.searchParams.get("force") === "true";
          const merged = serverSideApply(existing, config as KubeObject, manager, force);
          if (existing) {
            if (type.status) merged.status = existing.status;
            merged.metadata.resourceVersion = existing.metadata.resourceVersion;
            return send(
              response,
              200,
              store.update(key, prepare(type, merged, namespace, existing), type.generation),
            );
          }
          delete merged.status;
          return send(response, 201, store.create(key, prepare(type, merged, namespace), type.generation));
        }
        const existing = current();
        let object: KubeObject;
        if (request.method === "PUT") object = given as KubeObject;
        else {
          if (contentType.includes("merge-patch+json")) object = mergePatch(existing, given) as KubeObject;
          else if (contentType.includes("strategic-merge-patch+json")) {
            if (type.schema)
              throw new ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
              );
            object = strategicMergePatch(existing as never, given as never) as unknown as KubeObject;
          } else
            throw new ApiError(
              415,
              "UnsupportedMediaType",
              `the fake API server supports merge, strategic merge and apply patches, not ${contentType}`,
            );
          // A patch without a resourceVersion applies to whatever is current.
          if ((given as KubeObject | undefined)?.metadata?.resourceVersion === undefined)
            object.metadata.resourceVersion = existing.metadata.resourceVersion;
        }
        if (!object?.metadata) throw new ApiError(400, "BadRequest", "the object has no metadata");
        object.metadata.name = name;
        // The status subresource and the main resource each write only their own part.
        if (type.status) {
          if (subresource === "status")
            object = {
              ...existing,
              status: object.status,
              metadata: { ...existing.metadata, resourceVersion: object.metadata.resourceVersion },
            };
          else object.status = existing.status;
        }
        if (subresource !== "status") {
          // A PUT without managedFields keeps the stored ones (as a real API server does); managedFields
          // given in the request replace them (how a client moves ownership, e.g. from Update to Apply),
          // and the request's own changes are then recorded on top.
          if (object.metadata.managedFields === undefined)
            object.metadata.managedFields = existing.metadata.managedFields;
          const prepared = prepare(type, object, namespace, existing);
          const given = object.metadata.managedFields;
          const owners =
            given === existing.metadata.managedFields
              ? existing
              : { ...existing, metadata: { ...existing.metadata, managedFields: given } };
          recordUpdate(owners, prepared, manager);
          return send(response, 200, store.update(key, prepared, type.generation));
        }
        return send(
          response,
          200,
          store.update(key, prepare(type, object, namespace, existing), type.generation),
        );
      }
      case "DELETE":
        return send(response, 200, store.delete(key, namespace, name));
      default:
        throw new ApiError(405, "MethodNotAllowed", `${request.method} is not supported`);
    }
  }

  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = options.port ?? 0;
  let stalled: (() => void)[] | undefined;

  async function listen(): Promise<void> {
    server = createServer((request, response) => {
      const answer = () =>
        handle(request, response).catch((error: unknown) => {
          const e = error instanceof ApiError ? error : new ApiError(500, "InternalError", String(error));
          if (!response.headersSent)
            send(response, e.code, {
              kind: "Status",
              apiVersion: "v1",
              metadata: {},
              status: "Failure",
              message: e.message,
              reason: e.reason,
              code: e.code,
            });
          else response.end();
        });
      if (stalled) stalled.push(() => void answer());
      else void answer();
    });
    server.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server!.once("error", reject);
      server!.listen(port, "127.0.0.1", () => resolve());
    });
    port = (server.address() as { port: number }).port;
  }

  async function stop(): Promise<void> {
    const closing = server;
    server = undefined;
    if (!closing) return;
    const closed = new Promise<void>((resolve) => closing.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  }

  await listen();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    store,
    requests,
    stop,
    stall(on) {
      const waiting = stalled;
      stalled = on ? (stalled ?? []) : undefined;
      if (!on) for (const resume of waiting ?? []) resume();
    },
    async restart(restartOptions = {}) {
      await stop();
      if (restartOptions.compact) store.compact();
      await listen();
    },
  };
}
