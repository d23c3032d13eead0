// The Herald operator process: /healthz and /metrics, leader election on a Lease, and, while
// leading, the controller. SIGTERM stops the controller and releases the lease so that another
// replica takes over at once. Configuration: settings.ts (environment), and KUBECONFIG or the
// in-cluster service account for the API server.
import { createServer } from "node:http";
import { Controller } from "./controller.js";
import { EventRecorder } from "./events.js";
import { KubeClient } from "./kube.js";
import { LeaderElector } from "./leader.js";
import { OperatorMetrics } from "./metrics.js";
import { loadOperatorSettings, type OperatorSettings } from "./settings.js";
import { createLogger } from "../shared/log.js";
import { StreamManager } from "./stream.js";

let settings: OperatorSettings;
try {
  settings = loadOperatorSettings();
} catch (error) {
  console.error(`herald-operator: ${(error as Error).message}`);
  process.exit(2);
}
const { identity, leaseSeconds, port } = settings;
// One JSON line per event (shared/log.ts, as the edges log); `detail` keeps the sentence.
const logger = createLogger(settings.logLevel, { base: { component: "herald-operator", identity } });
const log = (line: string) => logger.log("info", "operator", { detail: line });

const client = KubeClient.fromEnvironment();
const metrics = new OperatorMetrics(settings.workers);
const streams = new StreamManager();
const controller = new Controller(
  client,
  streams,
  new EventRecorder(client, identity, log),
  metrics,
  logger,
  {
    namespace: settings.watchNamespace,
    workers: settings.workers,
    resyncMs: settings.resyncSeconds * 1000,
    retryBaseMs: 500,
    retryMaxMs: 60_000,
    stuckMs: settings.stuckSeconds * 1000,
    edgeImage: settings.edgeImage,
  },
);

const elector = new LeaderElector(
  client,
  {
    namespace: settings.leaseNamespace,
    name: settings.leaseName,
    identity,
    leaseDurationSeconds: leaseSeconds,
    // client-go's proportions (15 s lease, 10 s renew deadline, 2 s retry period).
    renewDeadlineMs: (leaseSeconds * 1000 * 2) / 3,
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
    const stuck = elector.isLeader ? controller.stuck() : undefined;
    if (stuck) response.writeHead(503, { "content-type": "text/plain" }).end(`stuck: ${stuck}\n`);
    else
      response
        .writeHead(200, { "content-type": "text/plain" })
        .end(elector.isLeader ? "ok (leader)\n" : "ok (standby)\n");
  } else if (request.url === "/metrics") {
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500).end(String(error)),
    );
  } else response.writeHead(404).end();
});
server.listen(port, () => {
  log(
    `herald-operator ${identity} listening on :${(server.address() as { port: number }).port} (/healthz, /metrics)`,
  );
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
