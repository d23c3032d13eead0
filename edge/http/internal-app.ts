// The internal listener (HERALD_METRICS_PORT): /metrics, GET /v1/admin/stats and the probes, on a
// fastify instance of its own, so that nothing on it is reachable through the public port that
// Services and Ingresses route (docs/operations.md#the-internal-port).
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "../common/log.js";
import { registerAdminRoutes, type AdminDeps } from "./admin-routes.js";
import { installErrorHandling } from "./errors.js";
import {
  observeRequests,
  registerMetricsRoute,
  registerProbeRoutes,
  type ProbeDeps,
} from "./probe-routes.js";

export interface InternalAppDeps extends ProbeDeps, AdminDeps {
  readonly log: Logger;
}

export function createInternalApp(deps: InternalAppDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, forceCloseConnections: true });
  installErrorHandling(app, deps.log, 64 * 1024);
  observeRequests(app, deps.metrics, deps.log);
  registerProbeRoutes(app, deps);
  registerMetricsRoute(app, deps.metrics);
  registerAdminRoutes(app, deps);
  return app;
}
