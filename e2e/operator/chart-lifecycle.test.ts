// The chart through real helm against the fake API server, the test standing in for the kubelet:
// it runs the operator with the environment of the operator Deployment helm created (and again
// after `helm upgrade`), and runs the pre-delete hook Job's command. `helm uninstall` with the
// example leaves nothing behind (the hook deletes it while the operator finalizes it); `helm
// upgrade` to a new edge image rolls the edges of resources that do not pin one, and only those.
import { execFile, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import test from "ava";
import { stringify } from "yaml";
import { startNats } from "../harness/nats-server.js";
import type { KubeObject } from "../fake-apiserver/store.js";
import {
  applyResource,
  createSecret,
  DEPLOYMENTS,
  events,
  markRollout,
  NS_PATH,
  ROOT,
  startCluster,
  streamInfo,
  tool,
  waitFor,
  waitForCondition,
  type Cluster,
  type OperatorProcess,
} from "./harness.js";

const run = promisify(execFile);
const JOBS = "/apis/batch/v1/namespaces/default/jobs";

type EnvVar = { name: string; value?: string };
type Deployment = KubeObject & {
  spec: { template: { spec: { containers: { image: string; env: EnvVar[]; command?: string[] }[] } } };
};

function helm(cluster: Cluster, ...args: string[]): Promise<string> {
  return run(tool("helm"), ["--kubeconfig", cluster.kubeconfig, "--namespace", "default", ...args], {
    encoding: "utf8",
    timeout: 180_000,
  }).then(
    (result) => result.stdout,
    (error: { stderr?: string; message: string }) => {
      throw new Error(`helm ${args.join(" ")}: ${error.stderr ?? error.message}`);
    },
  );
}

/** The kubelet's part: run the operator with the env of the Deployment helm installed. */
async function runChartOperator(cluster: Cluster, name: string): Promise<OperatorProcess> {
  const deployment = (await cluster.get(`${DEPLOYMENTS}/herald`)) as Deployment;
  const env: Record<string, string> = {};
  for (const variable of deployment.spec.template.spec.containers[0]!.env)
    if (variable.value !== undefined && variable.value !== "") env[variable.name] = variable.value;
  delete env.HERALD_OPERATOR_PORT; // the pod's port; here the harness picks a free one
  return cluster.startOperator(name, env);
}

function valuesFile(cluster: Cluster, name: string, values: unknown): string {
  const file = join(cluster.dir, `${name}.yaml`);
  writeFileSync(file, stringify(values));
  return file;
}

test("helm uninstall with the example: the pre-delete hook deletes it while the operator still finalizes it", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  await createSecret(cluster, "herald-jwt", { secret: "k".repeat(40) });
  await createSecret(cluster, "herald-api-keys", { keys: "publisher-1" });
  const values = valuesFile(cluster, "example", {
    replicaCount: 1,
    example: {
      enabled: true,
      name: "demo",
      deleteTimeoutSeconds: 60,
      spec: {
        nats: { url: nats.url },
        stream: { replicas: 1, deletePolicy: "Delete" },
        auth: {
          jwtSecret: { name: "herald-jwt", key: "secret" },
          apiKeysSecret: { name: "herald-api-keys", key: "keys" },
        },
      },
    },
  });
  t.regex(
    await helm(
      cluster,
      "install",
      "herald",
      join(ROOT, "charts/herald"),
      "--values",
      values,
      "--disable-openapi-validation",
    ),
    /STATUS: deployed[\s\S]*no anonymous access/,
  );
  await runChartOperator(cluster, "chart-op");
  await waitFor("the example's stream", () => streamInfo(nats.url, "herald_default_demo"));
  await waitFor("the example's edges", () => cluster.get(`${DEPLOYMENTS}/demo-edge`));
  const configMap = (await cluster.get("/api/v1/namespaces/default/configmaps/demo-edge")) as KubeObject & {
    data: Record<string, string>;
  };
  t.is(configMap.data.HERALD_ALLOW_ANONYMOUS, "false", "the example grants no anonymous access");

  const uninstall = helm(cluster, "uninstall", "herald", "--timeout", "120s");
  let uninstallFailed: unknown;
  uninstall.catch((error: unknown) => (uninstallFailed = error));
  // The kubelet's part for the hook: run the Job's command, then report it complete.
  const job = (await waitFor("the pre-delete hook Job", () => {
    if (uninstallFailed) throw uninstallFailed as Error; // helm gave up: say why
    return cluster.get(`${JOBS}/herald-uninstall`);
  })) as KubeObject & {
    spec: { template: { spec: { containers: { command: string[] }[] } } };
  };
  t.truthy(
    await cluster.get(`${DEPLOYMENTS}/herald`),
    "the operator Deployment is still there while the hook runs",
  );
  const [node, script, ...args] = job.spec.template.spec.containers[0]!.command;
  t.is(node, "node");
  t.is(script, "dist/operator/uninstall.js"); // compiled from operator/uninstall.ts (images.test.ts)
  const hook = spawn(process.execPath, ["--import", "tsx", join(ROOT, "operator/uninstall.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let hookOutput = "";
  hook.stdout.on("data", (chunk: Buffer) => (hookOutput += chunk.toString()));
  hook.stderr.on("data", (chunk: Buffer) => (hookOutput += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => hook.once("exit", resolve));
  t.is(code, 0, hookOutput);
  t.regex(hookOutput, /NotificationService default\/demo is gone/);
  const current = (await cluster.get(`${JOBS}/herald-uninstall`))!;
  await cluster.put(`${JOBS}/herald-uninstall/status`, {
    ...current,
    status: {
      succeeded: 1,
      startTime: new Date().toISOString(),
      completionTime: new Date().toISOString(),
      conditions: [
        { type: "SuccessCriteriaMet", status: "True" },
        { type: "Complete", status: "True" },
      ],
    },
  });
  t.regex(await uninstall, /release "herald" uninstalled/);

  t.is(await cluster.get(`${NS_PATH}/demo`), undefined, "the example is gone");
  t.is(await cluster.get(`${DEPLOYMENTS}/demo-edge`), undefined, "its edges are gone");
  t.is(
    await streamInfo(nats.url, "herald_default_demo"),
    undefined,
    "its finalizer ran (deletePolicy Delete)",
  );
  t.true(
    (await events(cluster)).some((e) => e.reason === "StreamDeleted" && e.involvedObject.name === "demo"),
  );
  t.is(await cluster.get(`${DEPLOYMENTS}/herald`), undefined, "and then the operator went");
  t.is(await cluster.get(`${JOBS}/herald-uninstall`), undefined, "the hook cleaned up after itself");
});

test("helm upgrade to a new edge image rolls the edges that follow the operator; a pinned one stays", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  const chart = join(ROOT, "charts/herald");
  const flags = (tag: string) => [
    "--set",
    "replicaCount=1",
    "--set",
    `edgeImage.tag=${tag}`,
    "--disable-openapi-validation",
  ];
  await helm(cluster, "install", "herald", chart, ...flags("1.0.0"));
  let operator = await runChartOperator(cluster, "op-v1");
  const base = { nats: { url: nats.url }, stream: { replicas: 1 } };
  await applyResource(cluster, "follows", base);
  await applyResource(cluster, "pinned", { ...base, edge: { image: "registry.example.com/edge:0.9.0" } });
  const image = async (name: string) =>
    ((await cluster.get(`${DEPLOYMENTS}/${name}-edge`)) as Deployment | undefined)?.spec.template.spec
      .containers[0]!.image;
  await waitFor(
    "the edges at 1.0.0",
    async () => (await image("follows")) === "ghcr.io/herald-dev/herald-edge:1.0.0",
  );
  t.is(await waitFor("the pinned edges", () => image("pinned")), "registry.example.com/edge:0.9.0");
  for (const name of ["follows", "pinned"]) await markRollout(cluster, `${name}-edge`);
  const status = async (name: string) =>
    (await cluster.get(`${NS_PATH}/${name}`))?.status as
      { edgeImage?: string; edgeVersion?: string } | undefined;
  await waitFor(
    "status of the running version",
    async () => (await status("follows"))?.edgeVersion === "1.0.0",
  );
  t.like(await status("follows"), {
    edgeImage: "ghcr.io/herald-dev/herald-edge:1.0.0",
    edgeVersion: "1.0.0",
  });
  await waitFor("the pinned version", async () => (await status("pinned"))?.edgeVersion === "0.9.0").catch(
    async (error: unknown) => {
      throw new Error(
        `${String(error)}: ${JSON.stringify(await cluster.get(`${NS_PATH}/pinned`))} ${operator.output()}`,
      );
    },
  );
  t.regex(
    await cluster.kubectl("get", "notificationservices", "-o", "wide"),
    /follows\s+True\s+Ready\s+\S+\s+\S+\s+1\.0\.0/,
  );
  const pinnedVersion = (await cluster.get(`${DEPLOYMENTS}/pinned-edge`))!.metadata.resourceVersion;

  // helm upgrade: the operator Deployment gets the new default; its new pod runs with it.
  t.regex(await helm(cluster, "upgrade", "herald", chart, ...flags("1.1.0")), /STATUS: deployed/);
  await operator.kill("SIGTERM");
  operator = await runChartOperator(cluster, "op-v2");
  await waitFor(
    "the edges to roll to 1.1.0",
    async () => (await image("follows")) === "ghcr.io/herald-dev/herald-edge:1.1.0",
  );
  // While the new image rolls out.
  const { resource: rolling } = await waitForCondition(cluster, "follows", "EdgeAvailable", {
    reason: "RollingOut",
  });
  t.is((rolling.status as { edgeVersion: string }).edgeVersion, "1.0.0", "the old pods still run 1.0.0");
  await markRollout(cluster, "follows-edge");
  await waitFor(
    "status 1.1.0 once rolled out",
    async () => (await status("follows"))?.edgeVersion === "1.1.0",
  );
  t.is(await image("pinned"), "registry.example.com/edge:0.9.0");
  t.is(
    (await cluster.get(`${DEPLOYMENTS}/pinned-edge`))!.metadata.resourceVersion,
    pinnedVersion,
    "not rewritten",
  );
});
