// Cross-origin access for what browsers on other origins use: the SDK bundle (/client.js, a module
// script), the SSE stream and, for the SDK's SSE mode, POST /v1/publish and the history API. The
// allowed origins are the WebSocket upgrade's (HERALD_ALLOWED_ORIGINS; unset: any origin). No
// cookies are involved (tokens travel in Authorization or ?token=), so no credentials are allowed.
import type { FastifyInstance } from "fastify";
import { SSE_PATH } from "../../protocol/sse.js";

const ALLOW_HEADERS = "authorization, content-type, last-event-id";

/**
 * The CORS response headers for a request from `origin`, or undefined when that origin is not
 * allowed. A request without Origin (not from a browser page, or same-origin) needs none.
 */
export function corsHeaders(
  origin: string | undefined,
  allowedOrigins: readonly string[] | undefined,
): Record<string, string> | undefined {
  if (origin === undefined) return {};
  if (allowedOrigins === undefined) {
    return { "access-control-allow-origin": "*", "access-control-allow-headers": ALLOW_HEADERS };
  }
  if (!allowedOrigins.includes(origin)) return undefined;
  return {
    "access-control-allow-origin": origin,
    "access-control-allow-headers": ALLOW_HEADERS,
    vary: "origin",
  };
}

/** Paths other than the SSE stream (which answers CORS itself) that browsers on other origins call. */
const CROSS_ORIGIN = [
  /^\/client\.js(\?|$)/,
  /^\/v1\/publish(\?|$)/,
  /^\/v1\/topics\/[^/]+\/messages(\?|$)/,
  // The SDK asks whether the edge is there when its WebSocket fails, before it falls back to SSE.
  /^\/readyz(\?|$)/,
];

export function registerCors(app: FastifyInstance, allowedOrigins: readonly string[] | undefined): void {
  app.addHook("onRequest", async (request, reply) => {
    if (request.url.startsWith(SSE_PATH)) return;
    if (!CROSS_ORIGIN.some((path) => path.test(request.url))) return;
    const headers = corsHeaders(request.headers.origin, allowedOrigins);
    if (headers) reply.headers({ ...headers, "access-control-allow-methods": "GET, POST" });
  });
  // Preflight of a cross-origin publish (JSON body, Authorization header).
  app.options("/v1/publish", async (request, reply) => {
    const headers = corsHeaders(request.headers.origin, allowedOrigins);
    if (headers === undefined) return reply.status(403).send();
    return reply
      .status(204)
      .headers({ ...headers, "access-control-allow-methods": "POST", "access-control-max-age": "600" })
      .send();
  });
}
