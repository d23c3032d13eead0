// One edge: fastify (HTTP API, probes, demo) and ws (herald.v1) on the public port, /metrics and
// the admin API on the internal one, over the hub and the durable log. startEdge is used by
// main.ts and, in-process, by tests.
import { setTimeout as delay } from "node:timers/promises";
import { WebSocketServer } from "ws";
import { SUBPROTOCOL, type Limits } from "../protocol/index.js";
import { createAuthenticator } from "./auth/index.js";
import { createBackend } from "./backend/index.js";
import { hasNoWayIn, type EdgeConfig } from "../shared/config.js";
import { closeInWaves } from "./session/drain.js";
import { createHttpApp } from "./http/app.js";
import { createInternalApp } from "./http/internal-app.js";
import { Hub } from "./hub/hub.js";
import { silentLogger, type Logger } from "./common/log.js";
import { EdgeMetrics } from "./common/metrics.js";
import { MemoryBudget } from "./common/memory-budget.js";
import { PublishRequests } from "./requests/publish-requests.js";
import { FlushScheduler } from "./session/send-queue.js";
import { Session } from "./session/session.js";
import { WsTransport } from "./session/ws-transport.js";
import { registerCors } from "./sse/cors.js";
import { registerSseRoute } from "./sse/sse-route.js";
import { Sessions } from "./session/sessions.js";
import { guardPendingConnections } from "./ws/pending-connections.js";
import { createUpgradeHandler } from "./ws/upgrade.js";
import { wsMaxPayload } from "./session/oversized-frames.js";

/**
 * Connections the kernel queues before the edge accepts them (capped by net.core.somaxconn). Node's
 * default of 511 drops the SYNs of a reconnect storm beyond it, and a dropped SYN is retried only
 * after 1, 3, 7, 15 s...: every client of a killed edge arrives at once.
 */
const ACCEPT_BACKLOG = 4096;
export interface RunningEdge {
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** ws://127.0.0.1:<port>/v1/ws */
  readonly wsUrl: string;
  /** The internal port: /metrics and GET /v1/admin/stats (HERALD_METRICS_PORT). */
  readonly metricsPort: number;
  /** http://127.0.0.1:<metricsPort> */
  readonly metricsUrl: string;
  readonly metrics: EdgeMetrics;
  ready(): boolean;
  /** Unready at once, then reconnect frames and 1001 closes in waves over drainSeconds, then close. */
  drain(): Promise<void>;
  /** Stops at once: closes every connection with 1001, the backend and the port. */
  close(): Promise<void>;
}

export interface StartOptions {
  readonly log?: Logger;
}

/** How long closing connections get to finish their close handshake before they are cut. */
const CLOSE_GRACE_MS = 2000;

export async function startEdge(config: EdgeConfig, options: StartOptions = {}): Promise<RunningEdge> {
  const log = options.log ?? silentLogger;
  const metrics = new EdgeMetrics({
    max_connections: config.maxConnections,
    max_subscriptions: config.maxSubscriptions,
    max_frame_bytes: config.maxFrameBytes,
    send_buffer_bytes: config.sendBufferBytes,
    frames_per_second: config.framesPerSecond,
    publishes_per_second: config.publishesPerSecond,
    cache_per_topic: config.cachePerTopic,
    history_limit: config.historyLimit,
    max_pending_upgrades: config.maxPendingUpgrades,
  });
  const authenticator = await createAuthenticator(config);
  // Everything clients can make the edge hold beyond their send buffers (edge/common/memory-budget.ts).
  const budget = new MemoryBudget(config.memoryBudgetBytes, {
    observe: (use, bytes) => metrics.memoryUsed.set({ use }, bytes),
    evicted: (bytes) => metrics.memoryEvicted.inc(bytes),
  });
  metrics.memoryLimit.set(config.memoryBudgetBytes);
  // Started only once the port listens: /healthz and /readyz (503 with the backend's state) are
  // served while the backend connects, also when NATS is not there yet.
  const backend = await createBackend(config, metrics, log, budget);
  // Why the edge is (un)ready, in the log as well as on /readyz.
  backend.onStatus((status) =>
    log.log(status.state === "unavailable" ? "warn" : "info", "backend_status", { ...status }),
  );
  const hub = new Hub(backend, metrics, {
    cachePerTopic: config.cachePerTopic,
    historyLimit: config.historyLimit,
    budget,
  });
  const publisher = new PublishRequests(backend, metrics, config.maxFrameBytes);
  const sessions = new Sessions(metrics, config.heartbeatMs);
  const limits: Limits = {
    maxFrameBytes: config.maxFrameBytes,
    maxSubscriptions: config.maxSubscriptions,
    sendBufferBytes: config.sendBufferBytes,
    framesPerSecond: config.framesPerSecond,
    publishesPerSecond: config.publishesPerSecond,
  };
  const sessionContext = {
    config,
    hub,
    authenticator,
    publisher,
    metrics,
    log,
    scheduler: new FlushScheduler(),
    limits,
    budget,
  };
  let draining = false;

  const wss = new WebSocketServer({
    noServer: true,
    // Above the limit, so that an oversized frame reaches the session and gets close code 4009;
    // frames beyond it are refused unread with 4009 too (edge/session/oversized-frames.ts).
    maxPayload: wsMaxPayload(config.maxFrameBytes),
    perMessageDeflate: false,
    handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });

  const notReadyReason = () => {
    if (draining) return "draining";
    const status = backend.status();
    return status.state === "ready" ? undefined : `backend ${status.state}: ${status.detail}`;
  };
  metrics.readiness = () => notReadyReason() === undefined;
  const { app, server } = createHttpApp({
    config,
    log,
    metrics,
    hub,
    publisher,
    authenticator,
    budget,
    notReadyReason,
  });
  const internal = createInternalApp({
    log,
    metrics,
    notReadyReason,
    authenticator,
    apiKeysConfigured: (config.apiKeys ?? []).length > 0,
    connections: () => sessions.size,
    topicStats: () => hub.topicStats(),
    backend: () => ({ kind: backend.kind, ...backend.status() }),
  });
  // herald.v1 over Server-Sent Events: the same sessions as the WebSocket's, another codec.
  registerCors(app, config.allowedOrigins);
  registerSseRoute(app, {
    config,
    authenticator,
    sessionContext,
    sessions,
    metrics,
    log,
    draining: () => draining,
  });
  guardPendingConnections(server, {
    maxSlow: config.maxPendingUpgrades,
    maxSlowPerAddress: config.maxPendingPerAddress,
    timeoutMs: config.upgradeTimeoutMs,
  });
  server.on(
    "upgrade",
    createUpgradeHandler({
      config,
      wss,
      authenticator,
      connectionCount: () => sessions.size,
      draining: () => draining,
      onConnection: (ws, auth) => {
        const session = new Session(new WsTransport(ws), sessionContext, auth, (ended) =>
          sessions.remove(ended),
        );
        // A session refused while starting (a bad ?token=) has already ended: nothing to track.
        metrics.connectionsOpened.inc();
        if (!session.isClosed) sessions.add(session);
        log.log("debug", "session_open", { session: session.id });
      },
    }),
  );

  /** Stops every part after the sessions: listeners, feeds, the backend, the key refresh. */
  const stopParts = async () => {
    wss.close();
    await app.close();
    await internal.close();
    hub.close();
    await backend.close();
    authenticator.close();
  };

  try {
    // `::` is dual-stack (IPv4 too); a node without IPv6 cannot bind it: fall back to 0.0.0.0.
    const host = await listenHost(config.host);
    await app.listen({ port: config.port, host, backlog: ACCEPT_BACKLOG });
    await internal.listen({ port: config.metricsPort, host });
    // Throws only on a definite refusal (an incompatible stream); an unreachable backend is retried.
    await backend.start();
  } catch (error) {
    // Nothing may outlive a failed start (an in-process caller keeps running).
    sessions.stop();
    await stopParts();
    throw error;
  }
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.port;
  const internalAddress = internal.server.address();
  const metricsPort =
    typeof internalAddress === "object" && internalAddress !== null
      ? internalAddress.port
      : config.metricsPort;
  log.log("info", "edge_started", {
    // The runtime, so a log shows which Node serves (npm scripts pin Node 24 LTS: the `node` package).
    node: process.version,
    port,
    metricsPort,
    host: config.host,
    backend: backend.kind,
    demo: config.demo === true,
    anonymous: config.allowAnonymous === true,
  });

  if (hasNoWayIn(config))
    log.log("warn", "no_way_in", {
      detail:
        "no client can connect or publish: anonymous access is off and there is no JWT key (HERALD_JWT_SECRET, HERALD_JWT_PUBLIC_KEY, HERALD_JWKS_URL) and no API key (HERALD_API_KEYS)",
    });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      draining = true;
      sessions.stop();
      await closeInWaves(sessions.list(), 0);
      // Give closing sockets a moment to finish their handshake, then cut what remains.
      const deadline = Date.now() + CLOSE_GRACE_MS;
      while (wss.clients.size > 0 && Date.now() < deadline) await delay(20);
      for (const ws of wss.clients) ws.terminate();
      await stopParts();
      log.log("info", "edge_closed", { port });
    })());

  let drainRun: Promise<void> | undefined;
  const drain = () =>
    (drainRun ??= (async () => {
      draining = true;
      log.log("info", "drain_started", {
        connections: sessions.size,
        drainSeconds: config.drainSeconds,
        delayMs: config.drainDelayMs,
      });
      await delay(config.drainDelayMs);
      await closeInWaves(
        sessions.list(),
        drainWindowMs(sessions.size, config.drainSeconds, config.drainRate),
      );
      await close();
    })());

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    metricsPort,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    metrics,
    ready: () => !draining && backend.status().state === "ready",
    drain,
    close,
  };
}

/**
 * How long the drain takes: `connections / rate` seconds at `rate` closes per second (HERALD_DRAIN_RATE,
 * 0 = no rate), never longer than the window (HERALD_DRAIN_SECONDS), which the pod's grace period covers.
 */
export function drainWindowMs(connections: number, windowSeconds: number, rate: number): number {
  if (rate <= 0) return windowSeconds * 1000;
  return Math.min(windowSeconds * 1000, Math.ceil((connections / rate) * 1000));
}

/** The host to listen on: `::` when the machine has IPv6, else 0.0.0.0 (only for `::`). */
async function listenHost(host: string): Promise<string> {
  if (host !== "::") return host;
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve("0.0.0.0"));
    probe.listen({ port: 0, host: "::" }, () => probe.close(() => resolve("::")));
  });
}
