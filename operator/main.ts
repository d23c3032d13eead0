// The Herald operator process: /healthz and /metrics, leader election on a Lease, and, while
// leading, the controller. SIGTERM stops the controller and releases the lease so that another
// replica takes over at once. Configuration (environment):
//   KUBECONFIG or the in-cluster service account      where the API server is
//   HERALD_OPERATOR_NAMESPACE     watch one namespace (default: all)
//   POD_NAMESPACE, POD_NAME       lease namespace and this replica's identity
//   HERALD_OPERATOR_LEASE         lease name (default herald-operator)
//   HERALD_OPERATOR_LEASE_SECONDS lease duration (default 15)
//   HERALD_OPERATOR_PORT          port of /healthz and /metrics (default 8081; 0 = any, printed)
import { createServer } from "node:http";
import { hostname } from "node:os";
import { Controller } from "./controller.js";
import { EventRecorder } from "./events.js";
import { KubeClient } from "./kube.js";
import { LeaderElector } from "./leader.js";
import { OperatorMetrics } from "./metrics.js";
import { StreamManager } from "./stream.js";

function integer(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    console.error(`herald-operator: ${name} must be a whole number >= ${min}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
const identity = process.env.POD_NAME || `${hostname()}-${process.pid}`;
const leaseSeconds = integer("HERALD_OPERATOR_LEASE_SECONDS", 15, 1);
const port = integer("HERALD_OPERATOR_PORT", 8081, 0);

const client = KubeClient.fromEnvironment();
const metrics = new OperatorMetrics();
const streams = new StreamManager();
const controller = new Controller(client, streams, new EventRecorder(client, identity, log), metrics, log, {
  namespace: process.env.HERALD_OPERATOR_NAMESPACE || undefined,
  workers: integer("HERALD_OPERATOR_WORKERS", 2, 1),
  resyncMs: integer("HERALD_OPERATOR_RESYNC_SECONDS", 300, 1) * 1000,
  retryBaseMs: 500,
  retryMaxMs: 60_000,
});

const elector = new LeaderElector(
  client,
  {
    namespace: process.env.POD_NAMESPACE || "default",
    name: process.env.HERALD_OPERATOR_LEASE || "herald-operator",
    identity,
    leaseDurationSeconds: leaseSeconds,
    retryPeriodMs: Math.max(200, (leaseSeconds * 1000) / 5),
  },
  {
    started: () => {
      metrics.leader.set(1);
      controller.start();
    },
    // A replica that lost the lease may have missed updates: exit and let Kubernetes restart it
    // clean (as client-go controllers do) rather than reconcile next to the new leader.
    stopped: () => {
      metrics.leader.set(0);
      log("exiting after losing leadership");
      process.exit(1);
    },
    log,
  },
);

const server = createServer((request, response) => {
  if (request.url === "/healthz") {
    response.writeHead(200, { "content-type": "text/plain" }).end(elector.isLeader ? "ok (leader)\n" : "ok (standby)\n");
  } else if (request.url === "/metrics") {
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  } else response.writeHead(404).end();
});
server.listen(port, () => {
  log(`herald-operator ${identity} listening on :${(server.address() as { port: number }).port} (/healthz, /metrics)`);
  elector.start();
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping`);
  await controller.stop();
  await elector.release();
  await streams.close();
  server.close();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
