// Test harness for the operator: the FAKE Kubernetes API server with the generated CRD installed by
// real kubectl, a real nats-server, and real operator processes (spawned, killed by their pids).
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { jetstreamManager, type StreamInfo } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Ajv } from "ajv";
import { startFakeApiServer, type FakeApiServer } from "../fake-apiserver/server.js";
import { crdSchema } from "./kubernetes-schemas.js";
import { writeKubeconfig } from "../fake-apiserver/kubeconfig.js";
import type { KubeObject } from "../fake-apiserver/store.js";
import type { Teardown } from "../harness/nats-server.js";
import { waitFor as kitWaitFor, type Check } from "../harness/wait.js";

const run = promisify(execFile);
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CRD_FILE = join(ROOT, "crds/notificationservices.herald.dev.yaml");

/** A tool from `bash scripts/test-tools.sh`, with a clear message when it is missing. */
export function tool(name: "kubectl" | "helm"): string {
  const path = join(ROOT, ".tools/bin", name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run bash scripts/test-tools.sh`);
  return path;
}

/**
 * The kit's waitFor for checks against the (fake) API server and the operator, which may refuse
 * while they settle: a thrown error is retried, and the timeout names the last one.
 */
export const waitFor = <T>(what: string | (() => string), check: Check<T>, timeoutMs = 60_000): Promise<T> =>
  kitWaitFor(what, check, { timeoutMs, intervalMs: 100, retryErrors: true });

export interface OperatorProcess {
  readonly pid: number;
  readonly output: () => string;
  /** GET a path of the operator's HTTP server (/healthz, /metrics). */
  http(path: string): Promise<{ status: number; text: string }>;
  /** Sum of a counter (all label values) from the operator's /metrics. */
  metric(name: string): Promise<number>;
  /** Kills it and waits until it is gone; the cluster kills every operator still running when the test ends. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

export interface Cluster {
  api: FakeApiServer;
  kubeconfig: string;
  dir: string;
  /** Runs real kubectl against the fake API server; rejects with kubectl's stderr. */
  kubectl(...args: string[]): Promise<string>;
  /** Reads an object straight from the fake API server. */
  get(path: string): Promise<KubeObject | undefined>;
  /** Writes through the fake API server's REST API (PUT). */
  put(path: string, object: unknown): Promise<KubeObject>;
  startOperator(name: string, env?: Record<string, string>): Promise<OperatorProcess>;
}

/** `gatewayApi: false`: a cluster without the Gateway API's CRDs (no HTTPRoutes served). */
export async function startCluster(t: Teardown, options: { gatewayApi?: boolean } = {}): Promise<Cluster> {
  const api = await startFakeApiServer(options);
  const dir = mkdtempSync(join(tmpdir(), "herald-operator-"));
  const kubeconfig = writeKubeconfig(join(dir, "kubeconfig"), api.url);
  /** How to kill each operator process still running, and wait until it is gone. */
  const operators = new Set<(signal: NodeJS.Signals) => Promise<void>>();
  t.teardown(async () => {
    // Every operator is gone before the API server it watches, so no test needs to stop its own.
    await Promise.all([...operators].map((kill) => kill("SIGKILL")));
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const kubectl = async (...args: string[]) => {
    try {
      return (
        await run(tool("kubectl"), ["--kubeconfig", kubeconfig, ...args], {
          encoding: "utf8",
          timeout: 60_000,
        })
      ).stdout;
    } catch (error) {
      throw new Error(`kubectl ${args.join(" ")}: ${(error as { stderr?: string }).stderr ?? String(error)}`);
    }
  };
  const request = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${api.url}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const payload = (await response.json()) as KubeObject & { message?: string };
    return { status: response.status, payload };
  };
  await kubectl("apply", "-f", CRD_FILE);

  return {
    api,
    kubeconfig,
    dir,
    kubectl,
    async get(path) {
      const { status, payload } = await request("GET", path);
      if (status === 404) return undefined;
      if (status !== 200) throw new Error(`GET ${path}: ${status} ${payload.message}`);
      return payload;
    },
    async put(path, object) {
      const { status, payload } = await request("PUT", path, object);
      if (status !== 200) throw new Error(`PUT ${path}: ${status} ${payload.message}`);
      return payload;
    },
    async startOperator(name, env = {}) {
      const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "operator/main.ts")], {
        cwd: ROOT,
        env: {
          // A clean HERALD_* slate: the developer's shell must not change what a test means.
          ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("HERALD_"))),
          KUBECONFIG: kubeconfig,
          POD_NAME: name,
          POD_NAMESPACE: "default",
          HERALD_OPERATOR_PORT: "0",
          // Short enough for the takeover tests; long enough that its renew deadline (2/3 of it)
          // survives a CI machine that starves the process for a few seconds: an operator that
          // misses it exits (as client-go controllers do). With 3 s, the operators of one test
          // file reconciled nothing for 60 s in three CI runs, as operators that exited would.
          HERALD_OPERATOR_LEASE_SECONDS: "10",
          ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      const kill = async (signal: NodeJS.Signals) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
        operators.delete(kill);
      };
      operators.add(kill);
      let output = "";
      child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      await waitFor(
        `operator ${name} to start`,
        () =>
          output.includes("listening on") || (child.exitCode !== null && Promise.reject(new Error(output))),
      );
      const port = Number(/listening on :(\d+)/.exec(output)![1]);
      return {
        pid: child.pid!,
        output: () => output,
        async http(path) {
          const response = await fetch(`http://127.0.0.1:${port}${path}`);
          return { status: response.status, text: await response.text() };
        },
        async metric(metricName) {
          const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          return text
            .split("\n")
            .filter((line) => line.startsWith(`${metricName}{`) || line.startsWith(`${metricName} `))
            .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
        },
        kill,
      };
    },
  };
}

/** The stream's info from NATS, or undefined when it does not exist. */
export async function streamInfo(natsUrl: string, name: string): Promise<StreamInfo | undefined> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    return await jsm.streams.info(name).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

export const NS_PATH = "/apis/herald.dev/v1alpha1/namespaces/default/notificationservices";
export const DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments";

/**
 * What the Deployment controller reports (there is none behind the fake API server): the current
 * generation observed, `updated` of the wanted pods on the new template, and when all of them
 * are, every pod available and Progressing=NewReplicaSetAvailable.
 */
export async function markRollout(cluster: Cluster, name: string, updated?: number): Promise<void> {
  const deployment = (await cluster.get(`${DEPLOYMENTS}/${name}`))! as KubeObject & {
    spec: { replicas: number };
  };
  const wanted = deployment.spec.replicas;
  const done = updated === undefined || updated >= wanted;
  const progressing = done
    ? {
        type: "Progressing",
        status: "True",
        reason: "NewReplicaSetAvailable",
        message: `ReplicaSet "${name}" has successfully progressed.`,
      }
    : {
        type: "Progressing",
        status: "True",
        reason: "ReplicaSetUpdated",
        message: `ReplicaSet "${name}" is progressing.`,
      };
  const status = {
    observedGeneration: deployment.metadata.generation,
    replicas: done ? wanted : wanted + 1,
    updatedReplicas: done ? wanted : updated,
    readyReplicas: wanted,
    availableReplicas: wanted,
    conditions: [
      {
        type: "Available",
        status: "True",
        reason: "MinimumReplicasAvailable",
        message: "Deployment has minimum availability.",
      },
      progressing,
    ],
  };
  await cluster.put(`${DEPLOYMENTS}/${name}/status`, { ...deployment, status });
}

/**
 * Stores a NotificationService as an older CRD (without today's CEL rules) would have let it in:
 * straight into the fake API server's store, with the schema's defaults, unvalidated.
 */
export function storeUnvalidated(cluster: Cluster, name: string, spec: Record<string, unknown>): void {
  const object = JSON.parse(notificationService(name, spec)) as KubeObject;
  const withDefaults = new Ajv({
    strict: false,
    useDefaults: true,
    allErrors: true,
    validateFormats: false,
  }).compile(crdSchema());
  withDefaults(object); // defaults applied; errors (what slipped past) ignored on purpose
  const resource = "herald.dev/notificationservices";
  let existing: KubeObject | undefined;
  try {
    existing = cluster.api.store.get(resource, "default", name);
  } catch {
    existing = undefined;
  }
  if (!existing) cluster.api.store.create(resource, object, true);
  else cluster.api.store.update(resource, { ...existing, spec: object.spec }, true);
}

/** Writes a file into the cluster's directory and runs kubectl apply -f on it. */
export async function applyResource(
  cluster: Cluster,
  name: string,
  spec: Record<string, unknown>,
): Promise<string> {
  const file = join(cluster.dir, `${name}.json`);
  writeFileSync(file, notificationService(name, spec));
  return cluster.kubectl("apply", "-f", file);
}

/** Creates a Secret through real kubectl (apply: kubectl's typed `create secret` speaks protobuf). */
export async function createSecret(
  cluster: Cluster,
  name: string,
  data: Record<string, string>,
): Promise<void> {
  const file = join(cluster.dir, `secret-${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: "default" },
      stringData: data,
    }),
  );
  await cluster.kubectl("apply", "-f", file);
}

/** Events recorded for the resources, oldest first. */
export async function events(
  cluster: Cluster,
): Promise<{ reason: string; type: string; message: string; involvedObject: { name: string } }[]> {
  return (
    (await cluster.get("/api/v1/namespaces/default/events")) as unknown as {
      items: { reason: string; type: string; message: string; involvedObject: { name: string } }[];
    }
  ).items;
}

/** A NotificationService manifest (YAML is JSON) for kubectl apply. */
export function notificationService(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: "herald.dev/v1alpha1",
    kind: "NotificationService",
    metadata: { name, namespace: "default" },
    spec,
  });
}

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration: number;
}

export function condition(object: KubeObject | undefined, type: string): Condition | undefined {
  return (object?.status as { conditions?: Condition[] } | undefined)?.conditions?.find(
    (c) => c.type === type,
  );
}

/**
 * Waits until NotificationService `name` has a condition `type` with the status and reason `want`
 * names, and returns the resource and that condition as they were then. The timeout says what the
 * condition was last.
 */
export async function waitForCondition(
  cluster: Cluster,
  name: string,
  type: string,
  want: { readonly status?: "True" | "False" | "Unknown"; readonly reason?: string },
  timeoutMs?: number,
): Promise<{ resource: KubeObject; condition: Condition }> {
  let last: Condition | undefined;
  const wanted = Object.entries(want).map(([key, value]) => `${key} ${value}`);
  return waitFor(
    () => `${name}'s ${type} condition with ${wanted.join(", ")} (last: ${JSON.stringify(last)})`,
    async () => {
      const resource = await cluster.get(`${NS_PATH}/${name}`);
      const found = condition(resource, type);
      last = found;
      const matches =
        found !== undefined &&
        (want.status === undefined || found.status === want.status) &&
        (want.reason === undefined || found.reason === want.reason);
      return matches && { resource: resource!, condition: found };
    },
    timeoutMs,
  );
}
