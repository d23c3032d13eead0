// The fake API server keeps the REST semantics the operator relies on; these tests pin them down
// so that a passing operator test means something.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { tool } from "../operator/harness.js";
import { writeKubeconfig } from "./kubeconfig.js";
import { startFakeApiServer, type FakeApiServer } from "./server.js";

const CONFIGMAPS = "/api/v1/namespaces/default/configmaps";
const DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments";

/** The parts of answers these tests look at. */
interface Answer {
  kind?: string;
  message?: string;
  code?: number;
  metadata: {
    name: string;
    uid: string;
    resourceVersion: string;
    generation?: number;
    deletionTimestamp?: string;
    finalizers?: string[];
  };
  spec: { replicas?: number } & Record<string, unknown>;
  status: { readyReplicas?: number };
}
interface Event {
  type: string;
  object: Answer;
}

async function call(
  api: FakeApiServer,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
) {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: { "content-type": contentType },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Answer };
}

/** Reads watch events until `count` have arrived. */
async function watchEvents(api: FakeApiServer, path: string, count: number): Promise<Event[]> {
  const response = await fetch(`${api.url}${path}`);
  const reader = response.body!.getReader();
  const events: Event[] = [];
  let buffer = "";
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += new TextDecoder().decode(value);
    const lines = buffer.split("\n");
    buffer = lines.pop()!;
    for (const line of lines) if (line) events.push(JSON.parse(line) as Event);
  }
  await reader.cancel();
  return events;
}

const deployment = (name: string, replicas: number, ownerUid?: string) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name,
    ...(ownerUid
      ? { ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: ownerUid }] }
      : {}),
  },
  spec: {
    replicas,
    selector: { matchLabels: { a: "b" } },
    template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } },
  },
});

test("resourceVersion, 409 on a stale update, generation only on spec changes, status subresource", async (t) => {
  const api = await startFakeApiServer();
  t.teardown(() => api.stop());
  const created = await call(api, "POST", DEPLOYMENTS, deployment("d", 1));
  t.is(created.status, 201);
  t.is(created.body.metadata.generation, 1);
  t.is((await call(api, "POST", DEPLOYMENTS, deployment("d", 1))).status, 409);

  const updated = await call(api, "PUT", `${DEPLOYMENTS}/d`, {
    ...created.body,
    spec: { ...created.body.spec, replicas: 3 },
  });
  t.is(updated.body.metadata.generation, 2);
  t.true(Number(updated.body.metadata.resourceVersion) > Number(created.body.metadata.resourceVersion));
  const stale = await call(api, "PUT", `${DEPLOYMENTS}/d`, created.body);
  t.is(stale.status, 409);
  t.regex(stale.body.message ?? "", /the object has been modified/);

  const withStatus = await call(api, "PUT", `${DEPLOYMENTS}/d/status`, {
    ...updated.body,
    spec: { ...updated.body.spec, replicas: 99 },
    status: { readyReplicas: 3 },
  });
  t.is(withStatus.body.status.readyReplicas, 3);
  t.is(withStatus.body.spec.replicas, 3, "the status subresource does not write spec");
  t.is(withStatus.body.metadata.generation, 2, "a status change does not bump generation");
  const mainIgnoresStatus = await call(api, "PUT", `${DEPLOYMENTS}/d`, {
    ...withStatus.body,
    status: { readyReplicas: 0 },
  });
  t.is(mainIgnoresStatus.body.status.readyReplicas, 3, "the main resource does not write status");

  const scaled = await call(
    api,
    "PATCH",
    `${DEPLOYMENTS}/d/scale`,
    { spec: { replicas: 5 } },
    "application/merge-patch+json",
  );
  t.is(scaled.body.kind, "Scale");
  t.is((await call(api, "GET", `${DEPLOYMENTS}/d`)).body.spec.replicas, 5);
});

test("watch from a version, 410 Gone after compaction, and owner-reference garbage collection", async (t) => {
  const api = await startFakeApiServer();
  t.teardown(() => api.stop());
  const owner = await call(api, "POST", CONFIGMAPS, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "owner" },
    data: {},
  });
  const start = owner.body.metadata.resourceVersion;
  await call(api, "POST", DEPLOYMENTS, deployment("owned", 1, owner.body.metadata.uid));
  await call(api, "POST", DEPLOYMENTS, deployment("free", 1));

  await call(api, "DELETE", `${CONFIGMAPS}/owner`);
  t.is((await call(api, "GET", `${DEPLOYMENTS}/owned`)).status, 404, "the dependent is collected");
  t.is((await call(api, "GET", `${DEPLOYMENTS}/free`)).status, 200);

  const events = await watchEvents(api, `${DEPLOYMENTS}?watch=true&resourceVersion=${start}`, 3);
  t.deepEqual(
    events.map((e) => `${e.type} ${e.object.metadata.name}`),
    ["ADDED owned", "ADDED free", "DELETED owned"],
  );

  api.store.compact();
  const [gone] = await watchEvents(api, `${DEPLOYMENTS}?watch=true&resourceVersion=${start}`, 1);
  t.is(gone!.type, "ERROR");
  t.is(gone!.object.code, 410);
});

test("finalizers hold a deletion until they are removed", async (t) => {
  const api = await startFakeApiServer();
  t.teardown(() => api.stop());
  await call(api, "POST", CONFIGMAPS, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "held", finalizers: ["x/y"] },
  });
  const deleting = await call(api, "DELETE", `${CONFIGMAPS}/held`);
  t.truthy(deleting.body.metadata.deletionTimestamp);
  const held = await call(api, "GET", `${CONFIGMAPS}/held`);
  t.is(held.status, 200);
  await call(api, "PUT", `${CONFIGMAPS}/held`, {
    ...held.body,
    metadata: { ...held.body.metadata, finalizers: [] },
  });
  t.is((await call(api, "GET", `${CONFIGMAPS}/held`)).status, 404);
});

test("a Secret's stringData is stored as base64 data, as a real API server does", async (t) => {
  const api = await startFakeApiServer();
  t.teardown(() => api.stop());
  const secrets = "/api/v1/namespaces/default/secrets";
  const created = await call(api, "POST", secrets, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s" },
    data: { a: "YQ==" },
    stringData: { b: "bee" },
  });
  t.is(created.status, 201);
  const stored = (await call(api, "GET", `${secrets}/s`)).body as unknown as {
    data: Record<string, string>;
    stringData?: unknown;
  };
  t.deepEqual(stored.data, { a: "YQ==", b: Buffer.from("bee").toString("base64") });
  t.false("stringData" in stored);
});

test("metadata-only lists and watches (PartialObjectMetadata) carry no data; kubectl's protobuf Secrets are decoded", async (t) => {
  const api = await startFakeApiServer();
  t.teardown(() => api.stop());
  const dir = mkdtempSync(join(tmpdir(), "fake-api-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = writeKubeconfig(join(dir, "kubeconfig"), api.url);
  // `kubectl create secret` sends the Secret as protobuf (async: this process is the API server).
  await promisify(execFile)(tool("kubectl"), [
    "--kubeconfig",
    kubeconfig,
    "create",
    "secret",
    "generic",
    "s",
    "--from-literal=password=hunter2",
  ]);
  t.true(api.requests.some((r) => r.method === "POST" && r.contentType.includes("protobuf")));
  const secrets = "/api/v1/namespaces/default/secrets";
  const full = (await call(api, "GET", `${secrets}/s`)).body as unknown as { data: Record<string, string> };
  t.is(Buffer.from(full.data.password!, "base64").toString(), "hunter2");
  const metadataOnly = { accept: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1" };
  const list = (await (await fetch(`${api.url}${secrets}`, { headers: metadataOnly })).json()) as {
    kind: string;
    items: Record<string, unknown>[];
  };
  t.is(list.kind, "PartialObjectMetadataList");
  t.deepEqual(Object.keys(list.items[0]!).sort(), ["apiVersion", "kind", "metadata"]);
  t.false(JSON.stringify(list).includes(full.data.password!), "no Secret data in a metadata-only list");
  const response = await fetch(`${api.url}${secrets}?watch=true`, {
    headers: { accept: "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1" },
  });
  const reader = response.body!.getReader();
  const { value } = await reader.read();
  await reader.cancel();
  const event = JSON.parse(new TextDecoder().decode(value).split("\n")[0]!) as {
    object: Record<string, unknown>;
  };
  t.is(event.object.kind, "PartialObjectMetadata");
  t.false("data" in event.object);
});

test("managedFields given in a request replace the stored ones: ownership moves, the next apply prunes", async (t) => {
  const api = await startFakeApiServer();
  t.teardown(() => api.stop());
  const created = await call(api, "POST", CONFIGMAPS, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "moved" },
    data: { OLD: "1", KEPT: "2" },
  });
  t.is(created.status, 201);
  type Entry = { manager: string; operation: string; fieldsV1: Record<string, unknown> };
  const entries = (answer: Answer) =>
    (answer.metadata as unknown as { managedFields: Entry[] }).managedFields;
  const [old] = entries(created.body);
  t.like(old, { manager: "node", operation: "Update" });
  // The old Update entry becomes the Apply entry of manager "new".
  const moved = await call(
    api,
    "PATCH",
    `${CONFIGMAPS}/moved`,
    {
      metadata: {
        resourceVersion: created.body.metadata.resourceVersion,
        managedFields: [{ ...old, manager: "new", operation: "Apply" }],
      },
    },
    "application/merge-patch+json",
  );
  t.is(moved.status, 200);
  t.deepEqual(
    entries(moved.body).map((e) => `${e.manager}/${e.operation}`),
    ["new/Apply"],
  );
  const applied = await call(
    api,
    "PATCH",
    `${CONFIGMAPS}/moved?fieldManager=new`,
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "moved" }, data: { KEPT: "2" } },
    "application/apply-patch+yaml",
  );
  t.deepEqual((applied.body as unknown as { data: Record<string, string> }).data, { KEPT: "2" });
});
