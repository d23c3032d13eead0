// Probes and metrics: /healthz (the process serves requests), /readyz (backend ready and not
// draining: what load balancers and Kubernetes route by), /metrics (Prometheus text).
import type { FastifyInstance } from "fastify";
import type { EdgeMetrics } from "../common/metrics.js";
import { RequestError } from "../requests/request-error.js";
import { sendError } from "./errors.js";

export interface ProbeDeps {
  readonly metrics: EdgeMetrics;
  /** Why the edge should not get traffic now, or undefined when it is ready. */
  readonly notReadyReason: () => string | undefined;
}

export function registerProbeRoutes(app: FastifyInstance, deps: ProbeDeps): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const reason = deps.notReadyReason();
    if (reason !== undefined) return sendError(reply, new RequestError("unavailable", reason, 1));
    return { status: "ready" };
  });
  app.get("/metrics", async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
}
