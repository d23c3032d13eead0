// The operator against the fake API server, a real nats-server and real kubectl: what a user sees
// when they apply, change, scale and delete a NotificationService.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { startNats } from "../harness/nats-server.js";
import { validateManifest } from "./kubernetes-schemas.js";
import {
  applyResource as apply,
  condition,
  createSecret,
  DEPLOYMENTS,
  events,
  markRollout,
  notificationService,
  NS_PATH,
  startCluster,
  storeUnvalidated,
  streamInfo,
  waitFor,
  waitForCondition,
} from "./harness.js";
import type { KubeObject } from "../fake-apiserver/store.js";

type Deployment = KubeObject & {
  spec: {
    replicas?: number;
    template: {
      metadata: { annotations: Record<string, string> };
      spec: { containers: { image: string; env: unknown[] }[] };
    };
  };
};

test("create, become Ready, change, scale and delete (Retain) a NotificationService", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  const operator = await cluster.startOperator("op-1");
  const spec = {
    nats: { url: nats.url },
    stream: { replicas: 1, maxAge: "1h", maxMsgsPerTopic: 50 },
    edge: { replicas: 2, image: "herald/edge:1" },
  };
  t.regex(await apply(cluster, "news", spec), /notificationservice.herald.dev\/news created/);

  const resource = await waitFor("the resource to get a finalizer", async () => {
    const r = await cluster.get(`${NS_PATH}/news`);
    return (r?.metadata.finalizers ?? []).includes("herald.dev/stream") && r;
  });
  const uid = resource.metadata.uid;
  const deployment = (await waitFor("the edge Deployment", () =>
    cluster.get(`${DEPLOYMENTS}/news-edge`),
  )) as Deployment;
  const owned = {
    ConfigMap: await waitFor("the ConfigMap", () =>
      cluster.get("/api/v1/namespaces/default/configmaps/news-edge"),
    ),
    Deployment: deployment,
    Service: await waitFor("the Service", () => cluster.get("/api/v1/namespaces/default/services/news")),
    PodDisruptionBudget: await waitFor("the PDB", () =>
      cluster.get("/apis/policy/v1/namespaces/default/poddisruptionbudgets/news-edge"),
    ),
  };
  for (const [kind, object] of Object.entries(owned)) {
    t.is(object.kind, kind);
    t.deepEqual(
      object.metadata.ownerReferences,
      [
        {
          apiVersion: "herald.dev/v1alpha1",
          kind: "NotificationService",
          name: "news",
          uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      kind,
    );
    await t.notThrowsAsync(validateManifest(object), kind);
  }
  t.is(deployment.spec.replicas, 2);
  t.is(deployment.spec.template.spec.containers[0]!.image, "herald/edge:1");
  const data = (owned.ConfigMap as KubeObject & { data: Record<string, string> }).data;
  t.is(data.HERALD_NATS_URL, nats.url);
  t.is(data.HERALD_STREAM, "herald_default_news");
  t.is(data.HERALD_MAX_AGE_SECONDS, "3600");
  t.is(
    await cluster.get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/news-edge"),
    undefined,
  );
  t.is(await cluster.get("/apis/networking.k8s.io/v1/namespaces/default/ingresses/news"), undefined);

  const stream = await waitFor("the JetStream stream", () => streamInfo(nats.url, "herald_default_news"));
  t.deepEqual(stream.config.subjects, ["herald_default_news.t.>"]);
  t.is(stream.config.max_msgs_per_subject, 50);
  t.is(stream.config.max_age, 3600 * 1e9);

  const { resource: notReady } = await waitForCondition(cluster, "news", "StreamReady", { status: "True" });
  t.is(condition(notReady, "Ready")?.status, "False");
  t.is(condition(notReady, "EdgeAvailable")?.reason, "RollingOut");

  await markRollout(cluster, "news-edge");
  const { resource: ready } = await waitForCondition(cluster, "news", "Ready", { status: "True" });
  const status = ready.status as Record<string, unknown>;
  t.is(status.readyReplicas, 2);
  t.is(status.observedGeneration, 1);
  t.is(status.endpoint, "ws://news.default.svc:8080/v1/ws");
  t.is(status.stream, "herald_default_news");
  t.is(typeof status.epoch, "string");
  t.is(condition(ready, "Ready")?.observedGeneration, 1);
  t.regex(
    await cluster.kubectl("get", "notificationservices"),
    /news\s+True\s+Ready\s+2\s+ws:\/\/news\.default\.svc:8080\/v1\/ws/,
  );

  // A second reconcile writes nothing: the resourceVersions stay put while the operator resyncs.
  const versions = async () =>
    Promise.all(
      [`${NS_PATH}/news`, `${DEPLOYMENTS}/news-edge`, "/api/v1/namespaces/default/configmaps/news-edge"].map(
        async (p) => (await cluster.get(p))!.metadata.resourceVersion,
      ),
    );
  const before = await versions();
  const reconciles = await operator.metric("controller_runtime_reconcile_total");
  await cluster.kubectl("annotate", "notificationservice", "news", "touched=yes"); // an event that triggers a reconcile
  await waitFor(
    "the reconcile of the annotated resource",
    async () => (await operator.metric("controller_runtime_reconcile_total")) > reconciles,
  );
  const afterTouch = await versions();
  t.deepEqual(afterTouch.slice(1), before.slice(1), "owned objects are not rewritten");
  t.not(afterTouch[0], before[0], "(the annotation itself changed the resource)");
  t.is(
    await cluster.get(`${NS_PATH}/news`).then((r) => r!.metadata.resourceVersion),
    afterTouch[0],
    "and the reconcile wrote no status",
  );

  // An owned object deleted by hand comes back (the operator watches what it owns).
  await cluster.kubectl("delete", "service", "news");
  const recreated = await waitFor("the Service to be re-created", () =>
    cluster.get("/api/v1/namespaces/default/services/news"),
  );
  t.not(recreated.metadata.uid, owned.Service.metadata.uid);

  // Change the spec: the Deployment rolls to the new image and observedGeneration follows.
  await apply(cluster, "news", { ...spec, edge: { replicas: 2, image: "herald/edge:2" } });
  const rolled = (await waitFor("the new image", async () => {
    const d = (await cluster.get(`${DEPLOYMENTS}/news-edge`)) as Deployment;
    return d.spec.template.spec.containers[0]!.image === "herald/edge:2" && d;
  })) as Deployment;
  t.is(rolled.spec.replicas, 2);
  // Ready follows the rollout, not the count of ready pods (all of which still run the old image).
  const rolling = await waitFor("Ready False while rolling out", async () => {
    const r = await cluster.get(`${NS_PATH}/news`);
    return (
      (r?.status as { observedGeneration?: number } | undefined)?.observedGeneration === 2 &&
      condition(r, "Ready")?.status === "False" &&
      r
    );
  });
  t.like(condition(rolling, "Ready"), {
    reason: "RollingOut",
    message: `waiting for the Deployment controller to observe generation ${rolled.metadata.generation}`,
    observedGeneration: 2,
  });
  t.is((rolling.status as { readyReplicas: number }).readyReplicas, 2, "the old pods are still ready");
  await markRollout(cluster, "news-edge", 1);
  const halfway = await waitFor("one of two pods updated", async () => {
    const c = condition(await cluster.get(`${NS_PATH}/news`), "EdgeAvailable");
    return c?.message.startsWith("1 of 2") && c;
  });
  t.like(halfway, {
    status: "False",
    reason: "RollingOut",
    message: `1 of 2 edge pods updated to generation ${rolled.metadata.generation}`,
  });
  await markRollout(cluster, "news-edge");
  const { resource: done } = await waitForCondition(cluster, "news", "Ready", { status: "True" });
  t.like(condition(done, "EdgeAvailable"), {
    reason: "EdgesReady",
    message: `2/2 edge pods available (generation ${rolled.metadata.generation} rolled out)`,
    observedGeneration: 2,
  });

  // kubectl scale goes through the scale subresource into spec.edge.replicas, then the Deployment.
  t.regex(await cluster.kubectl("scale", "notificationservice/news", "--replicas=4"), /scaled/);
  await waitFor(
    "4 replicas",
    async () => ((await cluster.get(`${DEPLOYMENTS}/news-edge`)) as Deployment).spec.replicas === 4,
  );
  t.is(((await cluster.get(`${NS_PATH}/news`))!.spec as { edge: { replicas: number } }).edge.replicas, 4);
  t.regex(
    await cluster.kubectl("get", "notificationservice", "news", "-o", "jsonpath={.status.selector}"),
    /app.kubernetes.io\/instance=news/,
  );

  // Delete with deletePolicy Retain (the default): the objects go, the stream stays.
  await cluster.kubectl("delete", "notificationservice", "news", "--timeout=60s");
  await waitFor("the resource to be gone", async () => (await cluster.get(`${NS_PATH}/news`)) === undefined);
  t.is(await cluster.get(`${DEPLOYMENTS}/news-edge`), undefined, "owned objects are garbage-collected");
  t.truthy(await streamInfo(nats.url, "herald_default_news"), "the stream is retained");
  const reasons = new Set((await events(cluster)).map((e) => e.reason));
  for (const reason of ["StreamCreated", "Created", "Updated", "StreamRetained"])
    t.true(reasons.has(reason), reason);
});

test("autoscaling hands replicas to the HPA; an Ingress when asked; delete (Delete) removes the stream", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  await cluster.startOperator("op-1");
  const spec = {
    nats: { url: nats.url },
    stream: { replicas: 1, deletePolicy: "Delete", name: "live" },
    edge: { autoscaling: { enabled: true, min: 3, max: 12, targetConnectionsPerPod: 5000 } },
    ingress: { className: "nginx", host: "live.example.com", tlsSecret: "live-tls" },
  };
  await apply(cluster, "live", spec);
  const hpa = (await waitFor("the HPA", () =>
    cluster.get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/live-edge"),
  )) as KubeObject & { spec: Record<string, unknown> };
  t.like(hpa.spec, {
    minReplicas: 3,
    maxReplicas: 12,
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "live-edge" },
  });
  await t.notThrowsAsync(validateManifest(hpa));
  const ingress = (await waitFor("the Ingress", () =>
    cluster.get("/apis/networking.k8s.io/v1/namespaces/default/ingresses/live"),
  ))!;
  t.is(
    ingress.metadata.annotations &&
      (ingress.metadata.annotations as Record<string, string>)[
        "nginx.ingress.kubernetes.io/proxy-read-timeout"
      ],
    "3600",
  );
  await t.notThrowsAsync(validateManifest(ingress));
  const deployment = (await waitFor("the Deployment", () =>
    cluster.get(`${DEPLOYMENTS}/live-edge`),
  )) as Deployment;
  t.is(deployment.spec.replicas, 1, "the API server's default: the operator wrote no replica count");
  await waitFor("the stream", () => streamInfo(nats.url, "live"));

  // The HPA scales the Deployment; a spec change later must roll the pods but keep the HPA's count.
  await cluster.put(`${DEPLOYMENTS}/live-edge`, { ...deployment, spec: { ...deployment.spec, replicas: 7 } });
  const hashBefore = deployment.spec.template.metadata.annotations["herald.dev/config-hash"];
  await apply(cluster, "live", { ...spec, limits: { maxSubscriptions: 50 } });
  const rolled = (await waitFor("the new configuration", async () => {
    const d = (await cluster.get(`${DEPLOYMENTS}/live-edge`)) as Deployment;
    return d.spec.template.metadata.annotations["herald.dev/config-hash"] !== hashBefore && d;
  })) as Deployment;
  t.is(rolled.spec.replicas, 7, "the HPA's replica count is kept");
  const config = (await cluster.get("/api/v1/namespaces/default/configmaps/live-edge")) as KubeObject & {
    data: Record<string, string>;
  };
  t.is(config.data.HERALD_MAX_SUBSCRIPTIONS, "50");

  // Autoscaling off: the HPA is removed and the operator owns replicas again.
  await apply(cluster, "live", { ...spec, edge: { replicas: 5 }, ingress: undefined });
  await waitFor(
    "the HPA to be removed",
    async () =>
      (await cluster.get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/live-edge")) ===
      undefined,
  );
  await waitFor(
    "the Ingress to be removed",
    async () =>
      (await cluster.get("/apis/networking.k8s.io/v1/namespaces/default/ingresses/live")) === undefined,
  );
  await waitFor(
    "5 replicas",
    async () => ((await cluster.get(`${DEPLOYMENTS}/live-edge`)) as Deployment).spec.replicas === 5,
  );

  await cluster.kubectl("delete", "notificationservice", "live", "--timeout=60s");
  await waitFor("the stream to be deleted", async () => (await streamInfo(nats.url, "live")) === undefined);
  t.is(await cluster.get(`${NS_PATH}/live`), undefined);
});

test("an unsafe stream change is refused with a clear condition, never applied", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  await cluster.startOperator("op-1");
  const spec = { nats: { url: nats.url }, stream: { replicas: 1, storage: "file" } };
  await apply(cluster, "safe", spec);
  await waitFor("the stream", () => streamInfo(nats.url, "herald_default_safe"));
  const configMapPath = "/api/v1/namespaces/default/configmaps/safe-edge";
  const applied = await waitFor("the edges to be rendered", async () => {
    const r = await cluster.get(`${NS_PATH}/safe`);
    if (condition(r, "StreamReady")?.status !== "True") return undefined;
    const configMap = await cluster.get(configMapPath);
    const deployment = (await cluster.get(`${DEPLOYMENTS}/safe-edge`)) as Deployment | undefined;
    return configMap && deployment && { data: configMap.data, template: deployment.spec.template };
  });
  // The API server refuses what the operator could not apply, at kubectl apply (CEL transition rules).
  const refusedByApi = await t.throwsAsync(
    apply(cluster, "safe", { ...spec, stream: { replicas: 1, storage: "memory", maxMsgsPerTopic: 9 } }),
  );
  t.regex(
    refusedByApi!.message,
    /NotificationService.herald.dev "safe" is invalid: spec\.stream: Invalid value: "object": stream\.storage cannot be changed once the stream exists/,
  );
  for (const [change, message] of [
    [
      { stream: { replicas: 1, name: "other" } },
      /spec\.stream: Invalid value: "object": stream\.name cannot be changed/,
    ],
    [{ stream: { replicas: 1, subjectPrefix: "other" } }, /stream\.subjectPrefix cannot be changed/],
    [
      { limits: { sendBufferBytes: 65536 } },
      /spec\.limits: Invalid value: "object": limits\.sendBufferBytes must be at least twice/,
    ],
  ] as const)
    t.regex((await t.throwsAsync(apply(cluster, "safe", { ...spec, ...change })))!.message, message);
  t.is(
    ((await cluster.get(`${NS_PATH}/safe`))!.spec as { stream: { storage: string } }).stream.storage,
    "file",
    "nothing of the refused changes was stored",
  );
  // Under an older CRD (no CEL) the change gets in: the operator refuses it from the stream itself.
  storeUnvalidated(cluster, "safe", {
    ...spec,
    stream: { replicas: 1, storage: "memory", maxMsgsPerTopic: 9 },
  });
  const { condition: refused } = await waitForCondition(cluster, "safe", "StreamReady", {
    reason: "UnsafeStreamChange",
  });
  t.regex(refused.message, /storage cannot be changed in place/);
  t.is(refused.status, "False");
  const stream = await streamInfo(nats.url, "herald_default_safe");
  t.is(stream?.config.storage, "file");
  t.is(stream?.config.max_msgs_per_subject, 1000, "nothing of the refused spec was applied");
  t.true((await events(cluster)).some((e) => e.reason === "UnsafeStreamChange" && e.type === "Warning"));
  // Edges started with the refused config would find a stream that contradicts it and not start:
  // what runs keeps its config.
  t.regex(refused.message, /the edges keep their current configuration/);
  t.deepEqual(
    (await cluster.get(configMapPath))?.data,
    applied.data,
    "the ConfigMap keeps the applied values",
  );
  t.is((applied.data as Record<string, string>).HERALD_STREAM_STORAGE, "file");
  t.deepEqual(
    ((await cluster.get(`${DEPLOYMENTS}/safe-edge`)) as Deployment).spec.template,
    applied.template,
    "the edges are not rolled",
  );
});

test("a spec the edges would refuse at start (a cross-field check) is InvalidSpec with an Event, nothing rendered, not retried", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  const operator = await cluster.startOperator("op-1");
  // Valid for the CRD schema field by field, but sendBufferBytes (default 1 MiB) < 2 * maxFrameBytes:
  // today's CRD refuses it (CEL), a resource stored under an older one reaches the operator.
  storeUnvalidated(cluster, "big", {
    nats: { url: nats.url },
    stream: { replicas: 1 },
    limits: { maxFrameBytes: 1048576 },
  });
  const { condition: invalid } = await waitForCondition(cluster, "big", "Ready", { reason: "InvalidSpec" });
  t.is(invalid.status, "False");
  t.is(
    invalid.message,
    "the edges would refuse this configuration: HERALD_SEND_BUFFER_BYTES must be at least twice HERALD_MAX_FRAME_BYTES (2097152), got 1048576",
  );
  const warning = await waitFor("the Warning Event", async () =>
    (await events(cluster)).find((e) => e.reason === "InvalidSpec" && e.involvedObject.name === "big"),
  );
  t.is(warning.type, "Warning");
  t.is(warning.message, invalid.message);
  // A Secret's value is checked as the edge would check it: an HS256 key that is too short.
  await createSecret(cluster, "jwt", { key: "short" });
  await apply(cluster, "weak", {
    nats: { url: nats.url },
    stream: { replicas: 1 },
    auth: { jwtSecret: { name: "jwt", key: "key" } },
  });
  const { condition: weak } = await waitForCondition(cluster, "weak", "Ready", { reason: "InvalidSpec" });
  t.regex(weak.message, /HERALD_JWT_SECRET must be at least 32 characters/);
  t.notRegex(weak.message, /short/, "the secret's value is never shown");
  for (const name of ["big", "weak"]) {
    t.is(await cluster.get(`${DEPLOYMENTS}/${name}-edge`), undefined, "nothing is rendered");
    t.is(
      await cluster.get(`/api/v1/namespaces/default/configmaps/${name}-edge`),
      undefined,
      "nothing is rendered",
    );
  }
  t.is(await streamInfo(nats.url, "herald_default_big"), undefined, "no stream is created");
  t.notRegex(operator.output(), /failed \(retry/, "not a transient error: no retries");
  // Fixing the spec brings it back.
  await apply(cluster, "big", {
    nats: { url: nats.url },
    stream: { replicas: 1 },
    limits: { maxFrameBytes: 1048576, sendBufferBytes: 2097152 },
  });
  await waitFor("the Deployment", () => cluster.get(`${DEPLOYMENTS}/big-edge`));
});

test("an invalid resource is refused by kubectl with the schema's message", async (t) => {
  const cluster = await startCluster(t);
  const file = join(cluster.dir, "bad.json");
  writeFileSync(
    file,
    notificationService("bad", { nats: { url: "nats://x:4222" }, stream: { storage: "tape", replicas: 9 } }),
  );
  const error = await t.throwsAsync(cluster.kubectl("apply", "-f", file));
  t.regex(error!.message, /NotificationService.herald.dev "bad" is invalid/);
  t.regex(
    error!.message,
    /spec\.stream\.storage: Unsupported value: "tape": supported values: "file", "memory"/,
  );
  t.regex(
    error!.message,
    /spec\.stream\.replicas: Invalid value: 9: spec\.stream\.replicas in body must be <= 5/,
  );
  writeFileSync(file, notificationService("bad", { stream: {} }));
  t.regex((await t.throwsAsync(cluster.kubectl("apply", "-f", file)))!.message, /spec\.nats: Required value/);
  t.is(await cluster.get(`${NS_PATH}/bad`), undefined);
});

// The API server refuses min > max through the CRD's CEL rule; a resource created under an older
// CRD (stored here unvalidated) must still be refused by the operator.
test("a spec that slips past the schema is reported as InvalidSpec, and nothing is rendered", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  await cluster.startOperator("op-1");
  storeUnvalidated(cluster, "odd", {
    nats: { url: nats.url },
    stream: { replicas: 1 },
    edge: { autoscaling: { enabled: true, min: 5, max: 2 } },
  });
  const { condition: invalid } = await waitForCondition(cluster, "odd", "Ready", { reason: "InvalidSpec" });
  t.is(invalid.status, "False");
  t.regex(invalid.message, /min \(5\) must not exceed max \(2\)/);
  t.is(await cluster.get(`${DEPLOYMENTS}/odd-edge`), undefined, "nothing is rendered from an invalid spec");
  // Fixing the spec brings it back.
  await apply(cluster, "odd", {
    nats: { url: nats.url },
    stream: { replicas: 1 },
    edge: { autoscaling: { enabled: true, min: 2, max: 5 } },
  });
  await waitFor("the Deployment", () => cluster.get(`${DEPLOYMENTS}/odd-edge`));
});

test("a missing NATS credentials Secret is NatsCredentialsMissing, not retried; a spec no client can authenticate to is warned about once", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  const operator = await cluster.startOperator("op-1");
  await apply(cluster, "creds", {
    nats: { url: nats.url, credentialsSecret: { name: "nats-creds", key: "user.creds" } },
    stream: { replicas: 1 },
    auth: { allowAnonymous: true },
  });
  const { condition: missing } = await waitForCondition(cluster, "creds", "StreamReady", {
    reason: "NatsCredentialsMissing",
  });
  t.is(missing.status, "False");
  t.is(missing.message, "NATS credentials: Secret nats-creds does not exist or has no key user.creds");
  const warning = await waitFor("the Warning Event", async () =>
    (await events(cluster)).find((e) => e.reason === "NatsCredentialsMissing"),
  );
  t.is(warning.type, "Warning");
  t.is(warning.message, missing.message);
  t.notRegex(
    operator.output(),
    /failed \(retry/,
    "the user's to fix: not retried (the Secret watch brings it back)",
  );

  await apply(cluster, "locked", { nats: { url: nats.url }, stream: { replicas: 1 } });
  await waitFor("the Deployment", () => cluster.get(`${DEPLOYMENTS}/locked-edge`));
  await markRollout(cluster, "locked-edge");
  await waitForCondition(cluster, "locked", "Ready", { status: "True" });
  const locked = (await events(cluster)).filter((e) => e.reason === "NoAuthentication");
  t.deepEqual(
    locked.map((e) => [e.involvedObject.name, e.type, e.message]),
    [
      [
        "locked",
        "Warning",
        "edges will refuse every client: anonymous access is off and there is no way to authenticate (set auth.jwtSecret, auth.jwtPublicKey, auth.jwksUrl or auth.apiKeysSecret, or auth.allowAnonymous)",
      ],
    ],
  );
});
