// The Helm chart through real helm: lint and template with several values files, and every
// rendered object validated against the Kubernetes API schemas (the NotificationService against
// the generated CRD's own schema).
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import test from "ava";
import { parseAllDocuments } from "yaml";
import { ROOT, tool } from "./harness.js";
import { validateManifest } from "./kubernetes-schemas.js";
import { OPERATOR_VARIABLES } from "../../operator/settings.js";

const run = promisify(execFile);
const CHART = join(ROOT, "charts/herald");
const VALUES = join(ROOT, "e2e/operator/values");

async function helm(...args: string[]): Promise<string> {
  try {
    return (await run(tool("helm"), args, { encoding: "utf8", timeout: 60_000 })).stdout;
  } catch (error) {
    throw new Error(
      `helm ${args.join(" ")}: ${(error as { stderr?: string; stdout?: string }).stderr ?? ""}${(error as { stdout?: string }).stdout ?? ""}`,
    );
  }
}

interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

async function template(valuesFile?: string): Promise<Rendered[]> {
  const args = ["template", "herald", CHART, "--namespace", "herald-system", "--include-crds"];
  if (valuesFile) args.push("--values", join(VALUES, valuesFile));
  return parseAllDocuments(await helm(...args))
    .map((d) => d.toJS() as Rendered)
    .filter((d) => d !== null);
}

for (const valuesFile of [undefined, "namespaced.yaml", "example.yaml", "no-rbac.yaml"]) {
  const label = valuesFile ?? "default values";
  test(`helm lint and template (${label}): every object is valid`, async (t) => {
    const args = ["lint", "--strict", CHART];
    if (valuesFile) args.push("--values", join(VALUES, valuesFile));
    t.regex(await helm(...args), /1 chart\(s\) linted, 0 chart\(s\) failed/);
    const objects = await template(valuesFile);
    for (const object of objects)
      await t.notThrowsAsync(validateManifest(object), `${object.kind} ${object.metadata.name}`);
    const kinds = objects.map((o) => o.kind);
    t.true(kinds.includes("CustomResourceDefinition"));
    t.true(kinds.includes("Deployment"));
  });
}

test("the default install: CRD, operator with two replicas, cluster-wide least-privilege RBAC", async (t) => {
  const objects = await template();
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  t.deepEqual(objects.map((o) => o.kind).sort(), [
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "Deployment",
    "Role",
    "RoleBinding",
    "Service",
    "ServiceAccount",
  ]);
  const deployment = byKind("Deployment")[0] as Rendered & {
    spec: {
      replicas: number;
      template: {
        spec: {
          serviceAccountName: string;
          containers: { securityContext: Record<string, unknown>; env: { name: string }[] }[];
        };
      };
    };
  };
  t.is(deployment.spec.replicas, 2);
  const container = deployment.spec.template.spec.containers[0]!;
  t.is(container.securityContext.readOnlyRootFilesystem, true);
  const known = new Set(Object.values(OPERATOR_VARIABLES).map((v) => v.env));
  for (const { name } of container.env)
    t.true(known.has(name as never), `${name} is a variable the operator reads`);
  t.true(container.env.some((e) => e.name === "POD_NAME"));
  const rules = (
    byKind("ClusterRole")[0] as Rendered & {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    }
  ).rules;
  t.false(
    rules.some((r) => r.verbs.includes("*") || r.resources.includes("*")),
    "no wildcards",
  );
  t.deepEqual(
    rules.find((r) => r.resources.includes("secrets"))?.verbs,
    ["get", "list", "watch"],
    "secrets are only read and watched (rotation), never written",
  );
  const leaseRole = byKind("Role")[0] as Rendered & {
    rules: { resources: string[]; resourceNames?: string[] }[];
  };
  t.is(leaseRole.metadata.namespace, "herald-system");
  t.deepEqual(leaseRole.rules[1]!.resourceNames, ["herald-operator"]);
});

test("watchNamespace turns the RBAC into a Role in that namespace", async (t) => {
  const objects = await template("namespaced.yaml");
  t.false(objects.some((o) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding"));
  const roles = objects
    .filter((o) => o.kind === "Role")
    .map((o) => o.metadata.namespace)
    .sort();
  t.deepEqual(roles, ["herald-system", "team-a"]);
  t.is(objects.find((o) => o.kind === "ServiceAccount")?.metadata.name, "herald-op");
});

test("the example NotificationService is valid against the CRD", async (t) => {
  const example = (await template("example.yaml")).find((o) => o.kind === "NotificationService");
  t.is(example?.metadata.name, "live");
  await t.notThrowsAsync(validateManifest(example!));
});

test("values.schema.json refuses bad values with a clear message", async (t) => {
  const error = await t.throwsAsync(helm("lint", CHART, "--values", join(VALUES, "invalid.yaml")));
  t.regex(error!.message, /replicaCount/);
  t.regex(error!.message, /minimum|greater than or equal/);
});
