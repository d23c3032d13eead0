import test from "ava";
import { isSubset, LEGACY_MANAGER, migratedManagedFields } from "./apply.js";

test("isSubset ignores what the API server adds, and sees every difference in what we set", (t) => {
  const desired = {
    spec: { replicas: 2, template: { containers: [{ name: "edge", ports: [{ containerPort: 8080 }] }] } },
  };
  const actual = {
    spec: {
      replicas: 2,
      revisionHistoryLimit: 10,
      template: {
        containers: [
          {
            name: "edge",
            imagePullPolicy: "IfNotPresent",
            ports: [{ containerPort: 8080, protocol: "TCP" }],
          },
        ],
      },
    },
  };
  t.true(isSubset(desired, actual));
  t.false(isSubset({ spec: { replicas: 3 } }, actual));
  t.false(
    isSubset({ spec: { template: { containers: [{ name: "edge" }, { name: "extra" }] } } }, actual),
    "a list of another length differs",
  );
  t.false(isSubset({ data: { A: "1" } }, { data: {} }));
  t.true(
    isSubset({ at: "2026-01-01T00:00:00Z" }, { at: new Date("2026-01-01T00:00:00Z") }),
    "the client's Date objects compare by instant",
  );
});

test("the previous operator's Update entry is moved into the operator's Apply entry; other managers stay", (t) => {
  const now = new Date("2026-12-01T10:00:00.600Z");
  const entry = (manager: string, operation: string, fieldsV1: unknown, subresource?: string) => ({
    manager,
    operation,
    apiVersion: "apps/v1",
    fieldsType: "FieldsV1",
    fieldsV1,
    ...(subresource ? { subresource } : {}),
  });
  const legacy = entry(LEGACY_MANAGER, "Update", {
    "f:spec": {
      "f:template": { "f:spec": { "f:securityContext": { "f:runAsUser": {} } } },
      "f:replicas": {},
    },
  });
  const apply = entry("herald-operator", "Apply", { "f:spec": { "f:minReadySeconds": {} } });
  const restart = entry("kubectl-rollout", "Update", { "f:spec": { "f:template": { "f:metadata": {} } } });
  const status = entry(LEGACY_MANAGER, "Update", { "f:status": {} }, "status");
  const migrated = migratedManagedFields([legacy, restart, apply, status], "apps/v1", now)!;
  t.deepEqual(migrated.slice(0, 2), [restart, status], "other managers and subresource entries are kept");
  t.deepEqual(migrated[2], {
    manager: "herald-operator",
    operation: "Apply",
    apiVersion: "apps/v1",
    time: new Date("2026-12-01T10:00:00Z"),
    fieldsType: "FieldsV1",
    fieldsV1: {
      "f:spec": {
        "f:template": { "f:spec": { "f:securityContext": { "f:runAsUser": {} } } },
        "f:replicas": {},
        "f:minReadySeconds": {},
      },
    },
  });
  t.is(migratedManagedFields([apply, restart, status], "apps/v1"), undefined, "nothing to move: no write");
  const service = migratedManagedFields(
    [entry(LEGACY_MANAGER, "Update", { "f:spec": { "f:clusterIP": {}, "f:clusterIPs": {}, "f:type": {} } })],
    "v1",
    now,
  )!;
  t.deepEqual(
    service[0]!.fieldsV1,
    { "f:spec": { "f:type": {} } },
    "a Service's allocated addresses stay unowned",
  );
});
