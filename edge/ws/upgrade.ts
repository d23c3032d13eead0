// The WebSocket upgrade of GET /v1/ws: guards (path, draining, origin, connection limit,
// subprotocol herald.v1), the optional ?token= check, then the ws handshake. Refusals are plain
// HTTP responses with the same JSON error body as the HTTP API.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocket, WebSocketServer } from "ws";
import { ERROR_STATUS, SUBPROTOCOL, WS_PATH, type ErrorCode } from "../../protocol/index.js";
import { rawErrorResponse } from "../http/raw-error-response.js";
import type { Authenticator, UpgradeAuth } from "../auth/grants.js";
import type { EdgeConfig } from "../../shared/config.js";
import { toRequestError } from "../requests/request-error.js";
import { settlePending } from "./pending-connections.js";

export interface UpgradeDeps {
  readonly config: EdgeConfig;
  readonly wss: WebSocketServer;
  readonly authenticator: Authenticator;
  readonly connectionCount: () => number;
  readonly draining: () => boolean;
  readonly onConnection: (ws: WebSocket, auth: UpgradeAuth) => void;
}

export function createUpgradeHandler(deps: UpgradeDeps) {
  const { config } = deps;
  const allowedOrigins = config.allowedOrigins ? new Set(config.allowedOrigins) : undefined;
  // Upgrades past the guards whose token is still being verified: they count as connections, so a
  // burst cannot overshoot maxConnections while verification is in flight.
  let admitting = 0;

  const handle = async (request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://edge.invalid");
    if (url.pathname !== WS_PATH)
      return refuse(socket, "not_found", `no WebSocket endpoint at ${url.pathname}; use ${WS_PATH}`);
    const malformed = handshakeProblem(request);
    if (malformed) return refuse(socket, malformed.code, malformed.message, malformed.headers);
    if (deps.draining())
      return refuse(socket, "unavailable", "this edge is draining; connect to another one");
    const origin = request.headers.origin;
    if (allowedOrigins && origin !== undefined && !allowedOrigins.has(origin)) {
      return refuse(socket, "forbidden", `origin ${origin} is not allowed`);
    }
    if (deps.connectionCount() + admitting >= config.maxConnections) {
      return refuse(
        socket,
        "unavailable",
        `this edge is at its limit of ${config.maxConnections} connections; try another one`,
      );
    }
    const offered = (request.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    if (!offered.includes(SUBPROTOCOL)) {
      return refuse(
        socket,
        "bad_request",
        `the WebSocket subprotocol ${SUBPROTOCOL} is required (Sec-WebSocket-Protocol)`,
      );
    }
    admitting++;
    let auth: UpgradeAuth;
    try {
      auth = await authenticateUpgrade(deps.authenticator, url.searchParams.get("token"));
    } finally {
      admitting--;
    }
    if (socket.destroyed) return;
    deps.wss.handleUpgrade(request, socket, head, (ws) => {
      settlePending(socket);
      deps.onConnection(ws, auth);
    });
  };

  // What handshakeProblem does not check (a Sec-WebSocket-Protocol or -Extensions header ws cannot
  // parse) ws refuses itself: in herald's format too, not ws's text/html.
  deps.wss.on("wsClientError", (error, socket) =>
    refuse(socket, "bad_request", `malformed WebSocket upgrade: ${error.message}`),
  );

  return (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // A reset during the handshake must not become an uncaught error.
    socket.on("error", destroyOnError);
    handle(request, socket, head).catch(() =>
      refuse(socket, "bad_request", "malformed WebSocket upgrade request"),
    );
  };
}

/** One listener for every socket (it stays on the socket for the connection's life). */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

async function authenticateUpgrade(authenticator: Authenticator, token: string | null): Promise<UpgradeAuth> {
  if (token === null) return { kind: "none" };
  try {
    return { kind: "token", grants: await authenticator.verifyToken(token) };
  } catch (error) {
    // Refused tokens still get the upgrade, then close 4001 with the reason: a browser can read a
    // close code, but never the status of a failed handshake.
    return { kind: "refused", message: toRequestError(error).message };
  }
}

/** ws's own handshake checks (RFC 6455 §4.2.1), made first so that their refusals speak herald. */
function handshakeProblem(
  request: IncomingMessage,
): { code: ErrorCode; message: string; headers?: Record<string, string> } | undefined {
  if (request.method !== "GET")
    return { code: "method_not_allowed", message: `a WebSocket upgrade must use GET, not ${request.method}` };
  if (request.headers.upgrade?.toLowerCase() !== "websocket")
    return { code: "bad_request", message: "the Upgrade header must be websocket" };
  if (!/^[+/0-9A-Za-z]{22}==$/.test(request.headers["sec-websocket-key"] ?? "")) {
    return { code: "bad_request", message: "Sec-WebSocket-Key must be 16 random bytes in base64" };
  }
  // ws speaks 13 (RFC 6455) and its draft 8, which is the same on the wire.
  const version = request.headers["sec-websocket-version"];
  if (version !== "13" && version !== "8") {
    return {
      code: "bad_request",
      message: "Sec-WebSocket-Version must be 13",
      headers: { "Sec-WebSocket-Version": "13" },
    };
  }
  return undefined;
}

function refuse(
  socket: Duplex,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  settlePending(socket);
  if (socket.destroyed) return;
  socket.end(
    rawErrorResponse(
      code,
      message,
      ERROR_STATUS[code] === 503 ? { ...headers, "Retry-After": "1" } : headers,
    ),
  );
}
