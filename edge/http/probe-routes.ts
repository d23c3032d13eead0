// Probes: /healthz (the process serves requests) and /readyz (backend ready and not draining: what
// load balancers and Kubernetes route by), on the public port and on the internal one. /metrics
// (Prometheus text) is on the internal port only (internal-app.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../common/log.js";
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
}

export function registerMetricsRoute(app: FastifyInstance, metrics: EdgeMetrics): void {
  app.get("/metrics", async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}

/** Routes whose requests are logged at debug, not info: probes and scrapes come every few seconds. */
const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Every answered request: counted in herald_http_requests_total by route pattern (never the raw
 * path, whose topics would be unbounded label values) and status, and one access log line.
 */
export function observeRequests(app: FastifyInstance, metrics: EdgeMetrics, log: Logger): void {
  const observe = (request: FastifyRequest, reply: FastifyReply, aborted: boolean) => {
    const route = request.routeOptions.url ?? "unmatched";
    const status = reply.raw.statusCode;
    metrics.httpRequests.inc({ method: request.method, route, status: String(status) });
    log.log(QUIET_ROUTES.has(route) ? "debug" : "info", "http_request", {
      method: request.method,
      route,
      path: request.url.split("?")[0],
      status,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      remote: request.ip,
      ...(aborted ? { aborted: true } : {}),
    });
  };
  app.addHook("onResponse", async (request, reply) => observe(request, reply, false));
  // fastify runs onResponse only when a response finishes. One the client closes after its
  // headers were sent (an SSE stream, the usual way one ends, or a download cut short) never
  // finishes: it is counted when its connection closes. Without headers sent it had no answer.
  app.addHook("onRequest", async (request, reply) => {
    reply.raw.once("close", () => {
      if (!reply.raw.writableFinished && reply.raw.headersSent) observe(request, reply, true);
    });
  });
}
