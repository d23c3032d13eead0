// The Helm chart through real helm: lint and template with several values files, and every
// rendered object validated against the Kubernetes API schemas (the NotificationService against
// the generated CRD's own schema).
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import test from "ava";
import { parse, parseAllDocuments } from "yaml";
import { ROOT, tool } from "./harness.js";
import { validateManifest } from "./kubernetes-schemas.js";
import { OPERATOR_VARIABLES } from "../../operator/settings.js";
import { edgeConfig, edgeEnvironment } from "../../operator/render.js";
import { parseSpec, secretRefs, type NotificationService } from "../../operator/spec.js";
import { hasNoWayIn } from "../../shared/config.js";

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

const VALUES_FILES = [
  undefined,
  "namespaced.yaml",
  "example.yaml",
  "example-secure.yaml",
  "no-rbac.yaml",
  "global.yaml",
];

for (const valuesFile of VALUES_FILES) {
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
    "PodDisruptionBudget",
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
  t.like(
    container.env.find((e) => e.name === "HERALD_OPERATOR_EDGE_IMAGE"),
    { value: "ghcr.io/herald-dev/herald-edge:0.1.0" },
    "the edges' default image is the chart's appVersion",
  );
  const podSpec = deployment.spec.template.spec as unknown as {
    securityContext: Record<string, unknown>;
    topologySpreadConstraints: { topologyKey: string }[];
  };
  t.false("runAsUser" in podSpec.securityContext, "no fixed uid (OpenShift's restricted SCC assigns one)");
  t.is(podSpec.securityContext.runAsNonRoot, true);
  t.deepEqual(
    podSpec.topologySpreadConstraints.map((c) => c.topologyKey),
    ["kubernetes.io/hostname", "topology.kubernetes.io/zone"],
  );
  t.like(byKind("PodDisruptionBudget")[0], {
    spec: { maxUnavailable: 1, unhealthyPodEvictionPolicy: "AlwaysAllow" },
  });
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

/** The environment the operator would give the edges of a rendered example NotificationService. */
function edgeEnvOf(example: Rendered): Record<string, string> {
  const resource = {
    ...example,
    metadata: { ...example.metadata, namespace: example.metadata.namespace ?? "default", uid: "u" },
    spec: parseSpec(example.spec),
  } as unknown as NotificationService;
  const { configData, secretEnv } = edgeEnvironment(resource, resource.spec);
  return { ...configData, ...Object.fromEntries(secretEnv.map((e) => [e.name, e.value ?? "<secret>"])) };
}

test("a render of user values never grants anonymous access the user did not ask for", async (t) => {
  for (const valuesFile of ["example-secure.yaml", "example.yaml"]) {
    const example = (await template(valuesFile)).find((o) => o.kind === "NotificationService")!;
    t.truthy(example, valuesFile);
    const auth = (example.spec as { auth?: Record<string, unknown> }).auth ?? {};
    t.false("allowAnonymous" in auth, `${valuesFile}: nothing merged into the user's auth`);
    const env = edgeEnvOf(example);
    t.is(env.HERALD_ALLOW_ANONYMOUS, "false", valuesFile);
    t.is(env.HERALD_ANONYMOUS_PUBLISH, "false", valuesFile);
    t.is(env.HERALD_JWT_SECRET, "<secret>", `${valuesFile}: the JWT key comes from the Secret`);
  }
  // Only the user's own values turn it on.
  const args = ["template", "herald", CHART, "--values", join(VALUES, "example-secure.yaml")];
  const anonymous = parseAllDocuments(await helm(...args, "--set", "example.spec.auth.allowAnonymous=true"))
    .map((d) => d.toJS() as Rendered)
    .find((o) => o?.kind === "NotificationService")!;
  t.is(edgeEnvOf(anonymous).HERALD_ALLOW_ANONYMOUS, "true");
});

test("the example is deleted by a pre-delete hook that runs while the operator does", async (t) => {
  const objects = await template("example-secure.yaml");
  const hooks = objects.filter(
    (o) =>
      (o.metadata as { annotations?: Record<string, string> }).annotations?.["helm.sh/hook"] === "pre-delete",
  );
  t.deepEqual(hooks.map((o) => o.kind).sort(), ["Job", "Role", "RoleBinding", "ServiceAccount"]);
  const job = hooks.find((o) => o.kind === "Job") as Rendered & {
    spec: { template: { spec: { containers: { image: string; command: string[] }[] } } };
  };
  const container = job.spec.template.spec.containers[0]!;
  t.is(container.image, "ghcr.io/herald-dev/herald-operator:0.1.0");
  t.deepEqual(container.command.slice(0, 2), ["node", "dist/operator/uninstall.js"]);
  t.true(container.command.includes("secure"));
  t.false(
    (await template()).some((o) => o.kind === "Job"),
    "no hook without the example",
  );
});

test("global values and name overrides reach every image and name", async (t) => {
  const objects = await template("global.yaml");
  const deployment = objects.find((o) => o.kind === "Deployment") as Rendered & {
    spec: {
      template: {
        metadata: { labels: Record<string, string> };
        spec: {
          imagePullSecrets: { name: string }[];
          priorityClassName: string;
          topologySpreadConstraints: { whenUnsatisfiable: string }[];
          containers: { image: string; env: { name: string; value?: string }[] }[];
        };
      };
    };
  };
  t.is(deployment.metadata.name, "herald-ops");
  const pod = deployment.spec.template.spec;
  t.is(pod.containers[0]!.image, "mirror.example.com/herald-dev/herald-operator:0.1.0");
  t.is(
    pod.containers[0]!.env.find((e) => e.name === "HERALD_OPERATOR_EDGE_IMAGE")?.value,
    "mirror.example.com/herald-dev/herald-edge:0.2.0",
  );
  t.deepEqual(pod.imagePullSecrets, [{ name: "mirror-pull" }]);
  t.is(pod.priorityClassName, "system-cluster-critical");
  t.is(pod.topologySpreadConstraints[0]!.whenUnsatisfiable, "DoNotSchedule");
  t.is(deployment.spec.template.metadata.labels.team, "notifications");
  t.false(
    objects.some((o) => o.kind === "PodDisruptionBudget"),
    "no PDB for a single replica",
  );
  t.true(
    objects
      .filter((o) => o.kind !== "CustomResourceDefinition")
      .every((o) => o.metadata.name.startsWith("herald-ops")),
  );
});

test("nameOverride alone renames the chart's objects after the release", async (t) => {
  const objects = parseAllDocuments(
    await helm("template", "herald", CHART, "--namespace", "herald-system", "--set", "nameOverride=notify"),
  )
    .map((d) => d.toJS() as Rendered)
    .filter((d) => d !== null);
  const names = objects.map((o) => o.metadata.name);
  t.true(names.includes("herald-notify"), names.join(", "));
  t.true(
    names.every((name) => name.startsWith("herald-notify")),
    names.join(", "),
  );
  const deployment = objects.find((o) => o.kind === "Deployment") as Rendered & {
    spec: { template: { spec: { serviceAccountName: string } } };
  };
  t.is(deployment.spec.template.spec.serviceAccountName, "herald-notify");
});

test("the install notes suggest a NotificationService clients can reach, with the Secrets it references", async (t) => {
  const notes = (
    await helm("install", "herald", CHART, "--namespace", "herald-system", "--dry-run=client")
  ).split("NOTES:")[1]!;
  const manifest = /apply -f - <<YAML\n([\s\S]*?)\n\s*YAML\n/.exec(notes)?.[1];
  t.truthy(manifest, notes);
  const suggested = parseAllDocuments(manifest!.replace(/^ {2}/gm, ""))[0]!.toJS() as Rendered;
  await t.notThrowsAsync(validateManifest(suggested), "valid against the CRD");
  // Every Secret key it references is created by the commands above it.
  const created = [...notes.matchAll(/create secret generic (\S+) --from-literal=(\w+)=/g)].map(
    ([, name, key]) => `${name}/${key}`,
  );
  const spec = parseSpec(suggested.spec);
  t.deepEqual(
    secretRefs(spec).map((ref) => `${ref.name}/${ref.key}`),
    created,
  );
  // The edges would let clients in: a JWT key (at least 32 characters) and API keys, no anonymous access.
  const resource = {
    ...suggested,
    metadata: { ...suggested.metadata, namespace: "herald-system", uid: "u" },
    spec,
  } as unknown as NotificationService;
  const config = edgeConfig(
    resource,
    spec,
    new Map(created.map((key) => [key, Buffer.from("x".repeat(64)).toString("base64")])),
  );
  t.false(config.allowAnonymous);
  t.false(hasNoWayIn(config), "subscribers get in with a token, publishers with an API key");
  t.regex(notes, /openssl rand -hex 32/, "a 64-character HS256 key");
});

test("docs/operator.md's values table names every top-level value (monitoring.*: docs/operations.md)", (t) => {
  const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as Record<string, unknown>;
  const docs = readFileSync(join(ROOT, "docs/operator.md"), "utf8");
  const table = docs.slice(
    docs.indexOf("| value | default | meaning |"),
    docs.indexOf("The operator's RBAC"),
  );
  for (const key of Object.keys(values).filter((k) => k !== "monitoring"))
    t.true(table.includes(`\`${key}`), `${key} is in the values table`);
});
