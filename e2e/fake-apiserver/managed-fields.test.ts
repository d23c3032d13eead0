// Server-side apply in the fake API server keeps the real field-ownership semantics the operator
// relies on: an applier's fields merge with other managers' (map lists by key), fields it stops
// applying are removed unless someone else owns them, conflicts need force, and an update takes
// ownership of what it changed.
import test from "ava";
import { fieldSet, recordUpdate, serverSideApply, strategicMergePatch } from "./managed-fields.js";
import type { KubeObject } from "./store.js";

const deployment = (template: Record<string, unknown>, extra: Record<string, unknown> = {}): KubeObject =>
  ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "d", namespace: "default" },
    spec: { template, ...extra },
  }) as KubeObject;

const managers = (object: KubeObject) =>
  (object.metadata.managedFields as { manager: string; operation: string }[]).map(
    (m) => `${m.manager}/${m.operation}`,
  );

test("owned paths: map lists by key, leaves, sets", (t) => {
  const paths = [
    ...fieldSet({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "x", labels: { a: "1" }, finalizers: ["f"] },
      spec: {
        containers: [{ name: "c", ports: [{ containerPort: 80 }] }],
        volumes: [{ name: "tmp", emptyDir: {} }],
      },
    }),
  ].map((p) => (JSON.parse(p) as string[]).join(" "));
  t.deepEqual(paths.sort(), [
    'f:metadata f:finalizers v:"f"',
    "f:metadata f:labels f:a",
    'f:spec f:containers k:{"name":"c"}',
    'f:spec f:containers k:{"name":"c"} f:name',
    'f:spec f:containers k:{"name":"c"} f:ports k:{"containerPort":80,"protocol":"TCP"}',
    'f:spec f:containers k:{"name":"c"} f:ports k:{"containerPort":80,"protocol":"TCP"} f:containerPort',
    'f:spec f:volumes k:{"name":"tmp"}',
    'f:spec f:volumes k:{"name":"tmp"} f:emptyDir',
    'f:spec f:volumes k:{"name":"tmp"} f:name',
  ]);
});

test("an apply keeps other managers' fields and removes the fields it no longer applies", (t) => {
  const first = serverSideApply(
    undefined,
    deployment({
      metadata: { annotations: { hash: "1" } },
      spec: {
        nodeSelector: { pool: "edge" },
        tolerations: [{ key: "a" }, { key: "b" }],
        containers: [{ name: "edge", image: "edge:1", env: [{ name: "A", value: "1" }] }],
      },
    }),
    "operator",
    true,
  );
  t.deepEqual(managers(first), ["operator/Apply"]);
  // kubectl rollout restart: a strategic merge patch by another manager.
  const restarted = strategicMergePatch(first as never, {
    spec: { template: { metadata: { annotations: { restartedAt: "now" } } } },
  }) as unknown as KubeObject;
  recordUpdate(first, restarted, "kubectl-rollout");
  t.deepEqual(managers(restarted), ["operator/Apply", "kubectl-rollout/Update"]);
  // The operator applies again: a new image, one toleration less, no nodeSelector, an env var more.
  const second = serverSideApply(
    restarted,
    deployment({
      metadata: { annotations: { hash: "2" } },
      spec: {
        tolerations: [{ key: "a" }],
        containers: [
          {
            name: "edge",
            image: "edge:2",
            env: [
              { name: "A", value: "1" },
              { name: "B", value: "2" },
            ],
          },
        ],
      },
    }),
    "operator",
    true,
  );
  const template = (second.spec as { template: Record<string, any> }).template; // eslint-disable-line @typescript-eslint/no-explicit-any
  t.deepEqual(
    template.metadata.annotations,
    { hash: "2", restartedAt: "now" },
    "the other manager's annotation stays",
  );
  t.false("nodeSelector" in template.spec, "a field no longer applied, owned by nobody else, is removed");
  t.deepEqual(template.spec.tolerations, [{ key: "a" }], "atomic lists are replaced");
  t.is(template.spec.containers[0].image, "edge:2");
  t.deepEqual(
    template.spec.containers[0].env.map((e: { name: string }) => e.name),
    ["A", "B"],
  );
  // Applying the same configuration again changes nothing, managedFields included.
  const again = serverSideApply(second, deployment(structuredClone(template) as never), "operator", true);
  t.deepEqual(
    (again.spec as { template: unknown }).template,
    (second.spec as { template: unknown }).template,
  );
});

test("a conflicting apply is refused without force, and takes the field over with it", (t) => {
  const created = deployment({ spec: { containers: [{ name: "edge", image: "edge:1" }] } }, { replicas: 3 });
  recordUpdate(undefined, created, "kubectl-client-side-apply");
  const conflicting = deployment(
    { spec: { containers: [{ name: "edge", image: "edge:1" }] } },
    { replicas: 5 },
  );
  const error = t.throws(() => serverSideApply(created, conflicting, "operator", false));
  t.regex(
    error!.message,
    /Apply failed with 1 conflict\(s\): conflict with "kubectl-client-side-apply": \.spec\.replicas/,
  );
  const forced = serverSideApply(created, conflicting, "operator", true);
  t.is((forced.spec as { replicas: number }).replicas, 5);
  // The same value is shared, not a conflict.
  t.notThrows(() =>
    serverSideApply(
      created,
      deployment({ spec: { containers: [{ name: "edge", image: "edge:1" }] } }, { replicas: 3 }),
      "op2",
      false,
    ),
  );
});

test("a strategic merge patch merges map lists by key and deletes with null", (t) => {
  const target = {
    spec: {
      containers: [
        { name: "a", image: "1" },
        { name: "b", image: "1" },
      ],
      x: 1,
    },
  };
  t.deepEqual(
    strategicMergePatch(
      target as never,
      { spec: { containers: [{ name: "b", image: "2" }], x: null } } as never,
    ),
    {
      spec: {
        containers: [
          { name: "a", image: "1" },
          { name: "b", image: "2" },
        ],
      },
    },
  );
});
