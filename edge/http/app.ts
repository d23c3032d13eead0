// The HTTP side of an edge: one fastify instance on a node:http server whose limits (header size,
// request time) also guard the WebSocket upgrades that arrive on the same server.
import { createServer, type Server } from "node:http";
import Fastify, { type FastifyInstance } from "fastify";
import { MAX_TOPIC_BYTES } from "../../protocol/index.js";
import type { Logger } from "../common/log.js";
import { MAX_TOKEN_LENGTH } from "../auth/jwt.js";
import { registerApiRoutes, type ApiDeps } from "./api-routes.js";
import { registerClientBundleRoute, registerDemoRoutes } from "./demo-routes.js";
import { clientErrorHandler, frameworkErrors, installErrorHandling } from "./errors.js";
import { observeRequests, registerProbeRoutes, type ProbeDeps } from "./probe-routes.js";

/**
 * Largest request line and header block; bigger requests (and upgrades) get 431. Room for a token
 * of the longest length accepted (16 KiB, on `?token=` or in `Authorization: Bearer`) and 16 KiB of
 * everything else, so the documented token limit is the real one on every path.
 */
export const MAX_HEADER_BYTES = MAX_TOKEN_LENGTH + 16 * 1024;

export interface HttpAppDeps extends ApiDeps, ProbeDeps {
  readonly log: Logger;
}

export function createHttpApp(deps: HttpAppDeps): { app: FastifyInstance; server: Server } {
  const { config } = deps;
  // A batch may hold many messages of up to maxFrameBytes each.
  const bodyLimit = Math.max(16 * config.maxFrameBytes, 1024 * 1024);
  let server: Server | undefined;
  const app = Fastify({
    logger: false,
    bodyLimit,
    // Topics in /v1/topics/:topic/messages are up to 255 bytes, tripled when percent-encoded
    // (fastify's default of 100 refused valid topics with 414).
    routerOptions: { maxParamLength: 3 * MAX_TOPIC_BYTES },
    frameworkErrors,
    clientErrorHandler: clientErrorHandler(MAX_HEADER_BYTES),
    forceCloseConnections: true,
    serverFactory: (handler) => {
      server = createServer(
        {
          maxHeaderSize: MAX_HEADER_BYTES,
          requestTimeout: config.upgradeTimeoutMs,
          headersTimeout: config.upgradeTimeoutMs,
          // Node checks these timeouts only every 30 s by default: a request whose body never
          // arrives (no longer pending once its headers are in) would be held that long.
          connectionsCheckingInterval: Math.min(1000, config.upgradeTimeoutMs),
        },
        handler,
      );
      return server;
    },
  });
  installErrorHandling(app, deps.log, bodyLimit);
  observeRequests(app, deps.metrics, deps.log);
  registerProbeRoutes(app, deps);
  registerApiRoutes(app, deps);
  // The SDK bundle for browser pages, demo or not.
  registerClientBundleRoute(app);
  // Off unless asked for (on by default only with the embedded backend): HERALD_DEMO.
  if (config.demo) registerDemoRoutes(app);
  return { app, server: server! };
}
