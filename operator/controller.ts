// The reconcile loop: informers feed keys into the work queue; each key is reconciled into the
// stream, the owned objects and the status. Errors are retried with backoff; an invalid spec or an
// unsafe stream change is reported (condition + Event) and waits for the user to fix it. Secrets
// the edges use are watched too, so that rotating one rolls the edges.
import { applyObject } from "./apply.js";
import type { EventRecorder } from "./events.js";
import { describeError, Informer, isConflict, objectKey, type KubeClient, type KubeObject } from "./kube.js";
import { CONTROLLER, type OperatorMetrics, type ReconcileResult } from "./metrics.js";
import type { Logger } from "../shared/log.js";
import { WorkQueue } from "./queue.js";
import { SecretIndex } from "./secret-index.js";
import { ConfigError, hasNoWayIn, type EdgeConfig } from "../shared/config.js";
import type { NatsAccess } from "../shared/nats-connection.js";
import { desiredStreamConfig } from "../shared/stream-config.js";
import {
  edgeConfig,
  endpoint,
  hpaName,
  imageVersion,
  names,
  OWNED_KINDS,
  renderAll,
  secretKey,
  selectorString,
  streamName,
  type Manifest,
  type RenderOptions,
  type SecretContents,
} from "./render.js";
import {
  API_VERSION,
  KIND,
  parseSpec,
  PLURAL,
  secretRefs,
  SpecError,
  type NotificationService,
  type NotificationServiceSpec,
  type SecretKeyRef,
} from "./spec.js";
import {
  autoscalingCondition,
  edgeCondition,
  HPA_CONDITIONS,
  type HpaState,
  readyCondition,
  statusChanged,
  withConditions,
  type ConditionInput,
  type DeploymentRollout,
} from "./status.js";
import { StreamConflictError, StreamRefusedError, type StreamManager, type StreamOwner } from "./stream.js";

export const FINALIZER = "herald.dev/stream";
const MANAGED_BY = "app.kubernetes.io/managed-by=herald-operator";

export interface ControllerOptions {
  /** Watch one namespace only; undefined = all namespaces. */
  namespace?: string;
  workers: number;
  /** Every resource is reconciled again this often (stream drift, missed events). */
  resyncMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** `stuck()` reports a reconcile running, or an informer out of sync, for this long. */
  stuckMs: number;
  /** The edge image of resources without spec.edge.image (the chart's edgeImage). */
  edgeImage: string;
}

export class Controller {
  private readonly queue: WorkQueue;
  private readonly informers: Informer[] = [];
  private readonly resources: Informer;
  private readonly secretUsers = new SecretIndex();
  private resyncTimer: NodeJS.Timeout | undefined;
  private workers: Promise<void>[] = [];
  /** Keys being reconciled, with when each started. */
  private readonly inFlight = new Map<string, number>();
  /** Optional owned kinds (HTTPRoute) the API server serves; filled in by start(). */
  private readonly served = new Set<string>();
  private readonly renderOptions: RenderOptions;

  constructor(
    private readonly client: KubeClient,
    private readonly streams: StreamManager,
    private readonly events: EventRecorder,
    private readonly metrics: OperatorMetrics,
    private readonly log: Logger,
    private readonly options: ControllerOptions,
  ) {
    this.queue = new WorkQueue({
      baseDelayMs: options.retryBaseMs,
      maxDelayMs: options.retryMaxMs,
      observer: metrics.queue,
    });
    this.renderOptions = { defaultEdgeImage: options.edgeImage };
    const watchFailed = (reason: string) => {
      this.metrics.watchRestarts.inc();
      this.log.log("warn", "watch_failed", { detail: `${reason}; re-listing` });
    };
    this.resources = new Informer(
      client,
      { apiVersion: API_VERSION, kind: KIND, plural: PLURAL, namespace: options.namespace },
      {
        changed: (object, deleted) => {
          this.secretUsers.update(object, deleted);
          this.queue.add(objectKey(object));
        },
        error: watchFailed,
      },
    );
    this.informers.push(this.resources);
    for (const owned of OWNED_KINDS) {
      if ("optional" in owned) continue; // watched once start() has seen the API is served
      this.informers.push(this.ownedInformer(owned));
    }
    // A changed Secret re-reconciles every resource that references it. The watch is metadata-only:
    // the API server never sends the operator a Secret's data unless a reconcile reads it.
    this.informers.push(
      new Informer(
        client,
        { apiVersion: "v1", kind: "Secret", plural: "secrets", namespace: options.namespace },
        {
          changed: (secret) => {
            for (const key of this.secretUsers.usersOf(secret)) this.queue.add(key);
          },
          error: watchFailed,
        },
        { metadataOnly: true },
      ),
    );
    this.metrics.queueLength = () => this.queue.length;
  }

  private ownedInformer(owned: (typeof OWNED_KINDS)[number]): Informer {
    return new Informer(
      this.client,
      {
        apiVersion: owned.apiVersion,
        kind: owned.kind,
        plural: owned.plural,
        namespace: this.options.namespace,
        labelSelector: MANAGED_BY,
      },
      {
        // A change to an owned object (a Deployment's status, a deleted Service) re-reconciles its owner.
        changed: (object) => {
          const owner = object.metadata?.ownerReferences?.find(
            (ref) => ref.kind === KIND && ref.apiVersion === API_VERSION,
          );
          if (owner) this.queue.add(`${object.metadata?.namespace}/${owner.name}`);
        },
        error: (reason) => {
          this.metrics.watchRestarts.inc();
          this.log.log("warn", "watch_failed", { detail: `${reason}; re-listing` });
        },
      },
    );
  }

  /** Watches the optional kinds the API server serves (Gateway API); the rest are skipped. */
  private async discoverOptionalKinds(): Promise<void> {
    for (const owned of OWNED_KINDS) {
      if (!("optional" in owned)) continue;
      let served: boolean;
      try {
        served = await this.client.serves(owned.apiVersion, owned.plural);
      } catch (error) {
        this.log.log("warn", "discovery_failed", {
          detail: `discovery of ${owned.apiVersion} failed (${describeError(error)}); retrying`,
        });
        setTimeout(() => void this.discoverOptionalKinds(), this.options.retryBaseMs * 10).unref();
        return;
      }
      if (!served || this.served.has(owned.kind)) continue;
      this.served.add(owned.kind);
      const informer = this.ownedInformer(owned);
      this.informers.push(informer);
      informer.start();
    }
  }

  start(): void {
    for (const informer of this.informers) informer.start();
    void this.discoverOptionalKinds();
    this.workers = Array.from({ length: this.options.workers }, () => this.work());
    this.resyncTimer = setInterval(() => {
      for (const object of this.resources.cache.values()) this.queue.add(objectKey(object));
    }, this.options.resyncMs);
  }

  async stop(): Promise<void> {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    for (const informer of this.informers) informer.stop();
    this.queue.shutdown();
    await Promise.all(this.workers);
  }

  /**
   * Why this controller cannot make progress (a reconcile hanging, e.g. on an API call that never
   * returns, or an informer that cannot list or watch), for /healthz so that the liveness probe
   * restarts the process; undefined when it is fine.
   */
  stuck(now = Date.now()): string | undefined {
    for (const informer of this.informers) {
      const problem = informer.outOfSync(now, this.options.stuckMs);
      if (problem) return problem;
    }
    for (const [key, started] of this.inFlight) {
      if (now - started >= this.options.stuckMs)
        return `reconcile of ${key} running for ${Math.round((now - started) / 1000)} s`;
    }
    return undefined;
  }

  private async work(): Promise<void> {
    for (let key = await this.queue.next(); key !== undefined; key = await this.queue.next()) {
      const started = performance.now();
      this.inFlight.set(key, Date.now());
      const active = this.metrics.activeWorkers.labels({ controller: CONTROLLER });
      active.inc();
      let result: ReconcileResult = "success";
      try {
        await this.reconcile(key);
        this.queue.forget(key);
      } catch (error) {
        const delay = this.queue.addWithBackoff(key);
        result = isConflict(error) ? "requeue" : "error";
        this.log.log(result === "error" ? "warn" : "info", "reconcile_failed", {
          resource: key,
          retryMs: delay,
          detail: `reconcile ${key} failed (retry in ${delay} ms): ${describeError(error)}`,
        });
      } finally {
        this.inFlight.delete(key);
        active.dec();
        this.metrics.reconciled(result, (performance.now() - started) / 1000);
        this.queue.done(key);
      }
    }
  }

  private async reconcile(key: string): Promise<void> {
    const [namespace, name] = key.split("/") as [string, string];
    let resource = (await this.client.read(API_VERSION, KIND, namespace, name)) as unknown as
      NotificationService | undefined;
    if (!resource) {
      this.events.forget(key);
      this.metrics.forget(namespace, name);
      return;
    }
    if (resource.metadata.deletionTimestamp) return this.finalize(resource);
    if (!(resource.metadata.finalizers ?? []).includes(FINALIZER)) {
      resource = (await this.client.replace(
        withFinalizers(resource, [...(resource.metadata.finalizers ?? []), FINALIZER]),
      )) as unknown as NotificationService;
    }

    let spec: NotificationServiceSpec;
    let secrets: SecretContents;
    let edge: EdgeConfig;
    try {
      spec = parseSpec(resource.spec);
      secrets = await this.readSecrets(resource, spec);
      // The edges' own config loader, on exactly what would be rendered: any check they make at
      // start (cross-field ones included) refuses the spec here, before anything is rolled out.
      edge = edgeConfig(resource, spec, secrets);
    } catch (error) {
      const message = invalidSpecMessage(error);
      if (message === undefined) throw error;
      const invalid: ConditionInput = { type: "StreamReady", status: false, reason: "InvalidSpec", message };
      await this.writeStatus(resource, [invalid, { ...invalid, type: "EdgeAvailable" }], {});
      await this.events.record(resource, "Warning", "InvalidSpec", message);
      return; // nothing to retry: the next spec change brings the resource back
    }
    const generation = resource.metadata.generation ?? 1;
    const desired = desiredStreamConfig(edge);
    // Said once per spec generation (retries and resyncs would repeat it): the edges run, but no
    // client will get in until the spec changes.
    const locked = lockedOut(edge);
    if (locked && resource.status?.observedGeneration !== generation)
      await this.events.record(resource, "Warning", "NoAuthentication", locked);

    let stream: ConditionInput;
    let epoch = resource.status?.epoch;
    let retryStream: unknown;
    let refused = false;
    try {
      const state = await this.streams.ensure(
        spec.nats.url,
        natsAccess(spec, secrets),
        desired,
        ownerOf(resource),
      );
      epoch = state.epoch;
      stream = {
        type: "StreamReady",
        status: true,
        reason: "StreamReady",
        message: `stream ${state.name} ready`,
      };
      for (const change of state.changes) {
        await this.events.record(
          resource,
          "Normal",
          change === "created" ? "StreamCreated" : "StreamUpdated",
          change === "created" ? `created stream ${state.name}` : change,
        );
      }
    } catch (error) {
      if (error instanceof StreamConflictError) return this.refuseSharedStream(resource, desired.name, error);
      if (error instanceof NatsCredentialsMissingError) {
        // Not retried: the Secret watch reconciles this resource again when the Secret appears.
        stream = {
          type: "StreamReady",
          status: false,
          reason: "NatsCredentialsMissing",
          message: error.message,
        };
        await this.events.record(resource, "Warning", "NatsCredentialsMissing", error.message);
      } else if (error instanceof StreamRefusedError) {
        stream = {
          type: "StreamReady",
          status: false,
          reason: "UnsafeStreamChange",
          message: `${error.message}; the edges keep their current configuration`,
        };
        await this.events.record(resource, "Warning", "UnsafeStreamChange", error.message);
        refused = true;
      } else {
        stream = {
          type: "StreamReady",
          status: false,
          reason: "NatsUnavailable",
          message: `stream ${desired.name}: ${describeError(error)}`,
        };
        await this.events.record(resource, "Warning", "NatsUnavailable", stream.message);
        retryStream = error;
      }
    }

    // A refused stream change is not rolled onto the edges either: new pods would find a stream
    // that contradicts their config and refuse to start. What is applied stays as it is.
    if (!refused) await this.applyManifests(resource, spec, secrets, generation);

    const deployment = (await this.client.read("apps/v1", "Deployment", namespace, names(resource).edge)) as
      (KubeObject & DeploymentRollout & { status?: { readyReplicas?: number } }) | undefined;
    const edgeAvailable = edgeCondition(deployment);
    const autoscaling = await this.autoscaling(resource, spec);
    await this.writeStatus(
      resource,
      [stream, edgeAvailable, ...(autoscaling ? [autoscaling.condition] : [])],
      {
        ...(autoscaling?.replicas ? { autoscaling: autoscaling.replicas } : {}),
        ...runningImage(resource, deployment, edgeAvailable),
        replicas: deployment?.status?.replicas ?? 0,
        readyReplicas: deployment?.status?.readyReplicas ?? 0,
        selector: selectorString(resource),
        endpoint: endpoint(resource, spec),
        stream: desired.name,
        ...(epoch ? { epoch } : {}),
      },
    );
    if (retryStream) throw retryStream;
  }

  private async applyManifests(
    resource: NotificationService,
    spec: NotificationServiceSpec,
    secrets: SecretContents,
    generation: number,
  ): Promise<void> {
    const manifests = renderAll(resource, spec, secrets, this.renderOptions).filter((manifest) => {
      const optional = OWNED_KINDS.find((k) => k.kind === manifest.kind && "optional" in k);
      return !optional || this.served.has(manifest.kind);
    });
    if (spec.gateway && !this.served.has("HTTPRoute"))
      await this.events.record(
        resource,
        "Warning",
        "GatewayApiMissing",
        "spec.gateway is set but the API server does not serve gateway.networking.k8s.io/v1 HTTPRoutes: install the Gateway API CRDs (the operator then creates the route; restart it if they were installed after it started)",
      );
    const scaling = spec.edge.autoscaling;
    if (scaling.enabled && scaling.provider === "keda" && !this.served.has("ScaledObject"))
      await this.events.record(
        resource,
        "Warning",
        "KedaMissing",
        "spec.edge.autoscaling.provider is keda but the API server does not serve keda.sh/v1alpha1 ScaledObjects: install KEDA (restart the operator if it was installed after it started); the edges are not autoscaled meanwhile",
      );
    if (spec.monitoring.podMonitor.enabled && !this.served.has("PodMonitor"))
      await this.events.record(
        resource,
        "Warning",
        "PrometheusOperatorMissing",
        "spec.monitoring.podMonitor is on but the API server does not serve monitoring.coreos.com/v1 PodMonitors: install the Prometheus Operator's CRDs (restart the operator if they were installed after it started)",
      );
    for (const manifest of manifests) {
      const result = await applyObject(this.client, manifest);
      if (result !== "unchanged")
        await this.events.record(
          resource,
          "Normal",
          result === "created" ? "Created" : "Updated",
          `${result} ${manifest.kind} ${manifest.metadata.name} (generation ${generation})`,
        );
    }
    await this.removeUnrendered(resource, manifests);
  }

  /** The HPA when autoscaling was turned off, the Ingress when it was removed from the spec. */
  private async removeUnrendered(resource: NotificationService, manifests: Manifest[]): Promise<void> {
    const rendered = new Set(manifests.map((m) => `${m.kind}/${m.metadata.name}`));
    const candidates = [
      { ...OWNED_KINDS.find((k) => k.kind === "HorizontalPodAutoscaler")!, name: names(resource).edge },
      { ...OWNED_KINDS.find((k) => k.kind === "Ingress")!, name: names(resource).ingress },
      ...(this.served.has("HTTPRoute")
        ? [{ ...OWNED_KINDS.find((k) => k.kind === "HTTPRoute")!, name: names(resource).route }]
        : []),
      ...(["PodMonitor", "ScaledObject"] as const)
        .filter((kind) => this.served.has(kind))
        .map((kind) => ({ ...OWNED_KINDS.find((k) => k.kind === kind)!, name: names(resource).edge })),
    ];
    for (const candidate of candidates) {
      if (rendered.has(`${candidate.kind}/${candidate.name}`)) continue;
      const existing = await this.client.read(
        candidate.apiVersion,
        candidate.kind,
        resource.metadata.namespace,
        candidate.name,
      );
      if (!existing?.metadata?.ownerReferences?.some((ref) => ref.uid === resource.metadata.uid)) continue;
      await this.client.delete(existing);
      await this.events.record(
        resource,
        "Normal",
        "Deleted",
        `deleted ${candidate.kind} ${candidate.name} (no longer in the spec)`,
      );
    }
  }

  /**
   * Another resource owns the stream: nothing is rendered (edges would read and write the other
   * resource's messages) and nothing is retried until the next change or resync.
   */
  private async refuseSharedStream(
    resource: NotificationService,
    stream: string,
    error: StreamConflictError,
  ): Promise<void> {
    const conflict: ConditionInput = {
      type: "StreamReady",
      status: false,
      reason: "StreamConflict",
      message: error.message,
    };
    const edge: ConditionInput = {
      ...conflict,
      type: "EdgeAvailable",
      message: `edges are neither deployed nor updated while stream ${stream} belongs to another owner`,
    };
    await this.writeStatus(resource, [conflict, edge], { selector: selectorString(resource), stream });
    await this.events.record(resource, "Warning", "StreamConflict", error.message);
  }

  /** Every Secret key the edges use, each Secret read once. */
  private async readSecrets(
    resource: NotificationService,
    spec: NotificationServiceSpec,
  ): Promise<SecretContents> {
    const secrets = new Map<string, (KubeObject & { data?: Record<string, string> }) | undefined>();
    const contents = new Map<string, string | undefined>();
    for (const ref of secretRefs(spec)) {
      if (!secrets.has(ref.name))
        secrets.set(ref.name, await this.client.read("v1", "Secret", resource.metadata.namespace, ref.name));
      contents.set(secretKey(ref), secrets.get(ref.name)?.data?.[ref.key]);
    }
    return contents;
  }

  private async writeStatus(
    resource: NotificationService,
    inputs: ConditionInput[],
    fields: Omit<NonNullable<NotificationService["status"]>, "conditions" | "observedGeneration">,
  ): Promise<void> {
    const generation = resource.metadata.generation ?? 1;
    const [stream, edge, ...others] = inputs as [ConditionInput, ConditionInput, ...ConditionInput[]];
    const conditions = withConditions(
      resource.status?.conditions,
      [readyCondition(stream, edge), stream, edge, ...others],
      generation,
    );
    const { namespace, name } = resource.metadata;
    this.metrics.ready.set({ namespace, name }, conditions[0]!.status === "True" ? 1 : 0);
    const status = { ...fields, observedGeneration: generation, conditions };
    if (!statusChanged(resource.status, status)) return;
    await this.client.replaceStatus(
      resource.metadata.namespace,
      resource.metadata.name,
      resource.metadata.resourceVersion!,
      status,
    );
    const ready = conditions[0]!;
    if (ready.status !== resource.status?.conditions?.find((c) => c.type === "Ready")?.status) {
      this.log.log(ready.status === "True" ? "info" : "warn", "ready_changed", {
        resource: `${namespace}/${name}`,
        ready: ready.status,
        reason: ready.reason,
        detail: `${namespace}/${name}: Ready=${ready.status} (${ready.reason}: ${ready.message})`,
      });
    }
  }

  /**
   * With autoscaling on, the Autoscaling condition and the HPA's replicas, read from the HPA that
   * scales the edges (the operator's, or the one KEDA made for the ScaledObject); undefined when
   * autoscaling is off. Also the per-resource HPA gauges.
   */
  private async autoscaling(
    resource: NotificationService,
    spec: NotificationServiceSpec,
  ): Promise<
    { condition: ConditionInput; replicas?: { desiredReplicas: number; currentReplicas: number } } | undefined
  > {
    const { namespace, name } = resource.metadata;
    if (!spec.edge.autoscaling.enabled) {
      this.metrics.forgetAutoscaling(namespace, name);
      return undefined;
    }
    const hpa = hpaName(resource, spec);
    const state = (await this.client.read("autoscaling/v2", "HorizontalPodAutoscaler", namespace, hpa)) as
      (KubeObject & HpaState) | undefined;
    for (const condition of HPA_CONDITIONS) {
      const found = state?.status?.conditions?.find((c) => c.type === condition);
      if (found)
        this.metrics.hpaCondition.set({ namespace, name, condition }, found.status === "True" ? 1 : 0);
      else this.metrics.hpaCondition.remove({ namespace, name, condition });
    }
    const status = state?.status;
    const replicas =
      status?.desiredReplicas === undefined
        ? undefined
        : { desiredReplicas: status.desiredReplicas, currentReplicas: status.currentReplicas ?? 0 };
    if (replicas) {
      this.metrics.replicas.set({ namespace, name, kind: "desired" }, replicas.desiredReplicas);
      this.metrics.replicas.set({ namespace, name, kind: "current" }, replicas.currentReplicas);
    }
    const condition = autoscalingCondition(hpa, state);
    this.metrics.setAutoscaling(namespace, name, condition);
    return { condition, ...(replicas ? { replicas } : {}) };
  }

  /** Deleting: remove the stream only under deletePolicy Delete, then let the object go. */
  private async finalize(resource: NotificationService): Promise<void> {
    if (!(resource.metadata.finalizers ?? []).includes(FINALIZER)) return;
    let spec: NotificationServiceSpec | undefined;
    try {
      spec = parseSpec(resource.spec);
    } catch {
      spec = undefined; // an invalid spec never created a stream we could name safely: retain
    }
    if (spec?.stream.deletePolicy === "Delete") {
      const name = streamName(resource, spec);
      try {
        const deleted = await this.streams.remove(
          spec.nats.url,
          natsAccess(spec, await this.readSecrets(resource, spec)),
          name,
          ownerOf(resource),
        );
        await this.events.record(
          resource,
          "Normal",
          "StreamDeleted",
          deleted ? `deleted stream ${name}` : `stream ${name} was already gone`,
        );
      } catch (error) {
        if (!(error instanceof StreamConflictError)) throw error;
        await this.events.record(
          resource,
          "Warning",
          "StreamRetained",
          `kept stream ${name} despite deletePolicy Delete: ${error.message}`,
        );
      }
    } else if (spec) {
      await this.events.record(
        resource,
        "Normal",
        "StreamRetained",
        `kept stream ${streamName(resource, spec)} (deletePolicy Retain)`,
      );
    }
    await this.client.replace(
      withFinalizers(
        resource,
        (resource.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
      ),
    );
    this.log.log("info", "finalized", {
      resource: `${resource.metadata.namespace}/${resource.metadata.name}`,
      detail: `${resource.metadata.namespace}/${resource.metadata.name}: finalized (stream ${spec?.stream.deletePolicy === "Delete" ? "deleted" : "retained"})`,
    });
  }
}

/** What to tell the user about a spec that cannot be deployed; undefined for any other error. */
function invalidSpecMessage(error: unknown): string | undefined {
  if (error instanceof SpecError) return error.message;
  if (error instanceof ConfigError)
    return `the edges would refuse this configuration: ${error.problems.join("; ")}`;
  return undefined;
}

/** Why no client could ever connect to edges with this config; undefined when some can. */
function lockedOut(edge: EdgeConfig): string | undefined {
  if (!hasNoWayIn(edge)) return undefined;
  return "edges will refuse every client: anonymous access is off and there is no way to authenticate (set auth.jwtSecret, auth.jwtPublicKey, auth.jwksUrl or auth.apiKeysSecret, or auth.allowAnonymous)";
}

/**
 * The image (and its version) the edges run: the Deployment's once its rollout is complete; while
 * one is under way, what the status said before (the old pods still serve).
 */
function runningImage(
  resource: NotificationService,
  deployment: { spec?: unknown } | undefined,
  edge: ConditionInput,
): { edgeImage?: string; edgeVersion?: string } {
  const template = (
    deployment?.spec as { template?: { spec?: { containers?: { image?: string }[] } } } | undefined
  )?.template;
  const image = template?.spec?.containers?.[0]?.image;
  if (edge.status && image) return { edgeImage: image, edgeVersion: imageVersion(image) };
  const { edgeImage, edgeVersion } = resource.status ?? {};
  return { ...(edgeImage ? { edgeImage } : {}), ...(edgeVersion ? { edgeVersion } : {}) };
}

function withFinalizers(resource: NotificationService, finalizers: string[]): KubeObject {
  return { ...resource, metadata: { ...resource.metadata, finalizers } } as unknown as KubeObject;
}

function ownerOf(resource: NotificationService): StreamOwner {
  return { namespace: resource.metadata.namespace, name: resource.metadata.name, uid: resource.metadata.uid };
}

/** A Secret (or key) named in spec.nats is missing: the user's to fix, not NATS's. */
class NatsCredentialsMissingError extends Error {}

/**
 * How the operator reaches NATS for this resource: the same credentials, TLS material and JetStream
 * domain the edges get, read from the referenced Secrets. A Secret or key that is missing is the
 * user's to fix (NatsCredentialsMissing), not a NATS outage.
 */
function natsAccess(spec: NotificationServiceSpec, secrets: SecretContents): NatsAccess {
  const nats = spec.nats;
  const value = (ref: SecretKeyRef | undefined, what: string): string | undefined => {
    if (!ref) return undefined;
    const encoded = secrets.get(secretKey(ref));
    if (encoded === undefined)
      throw new NatsCredentialsMissingError(
        `${what}: Secret ${ref.name} does not exist or has no key ${ref.key}`,
      );
    return Buffer.from(encoded, "base64").toString("utf8");
  };
  const userPassword = nats.userPasswordSecret;
  const client = nats.tls?.clientCertSecret;
  return {
    creds: value(nats.credentialsSecret, "NATS credentials"),
    nkeySeed: value(nats.nkeySecret, "NATS nkey seed"),
    user: value(userPassword && { name: userPassword.name, key: userPassword.usernameKey }, "NATS user"),
    password: value(
      userPassword && { name: userPassword.name, key: userPassword.passwordKey },
      "NATS password",
    ),
    tls: {
      ca: value(nats.tls?.caSecret, "NATS TLS CA"),
      cert: value(client && { name: client.name, key: "tls.crt" }, "NATS client certificate"),
      key: value(client && { name: client.name, key: "tls.key" }, "NATS client key"),
    },
    jetstreamDomain: nats.jetstreamDomain,
  };
}
