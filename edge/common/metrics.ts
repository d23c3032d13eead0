// Prometheus metrics of one edge. A registry per edge instance (not prom-client's global one), so
// several edges can run in one process in tests.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class EdgeMetrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({
    name: "herald_connections",
    help: "Open WebSocket connections and SSE streams.",
    registers: [this.registry],
  });
  readonly subscriptions = new Gauge({
    name: "herald_subscriptions",
    help: "Active subscriptions on this edge.",
    registers: [this.registry],
  });
  readonly topics = new Gauge({
    name: "herald_topics",
    help: "Topics with at least one local subscriber (live feeds held).",
    registers: [this.registry],
  });
  readonly messagesIn = new Counter({
    name: "herald_messages_in_total",
    help: "Messages accepted for publishing.",
    labelNames: ["via"] as const,
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: "herald_deliveries_total",
    help: "Message frames queued to subscribers.",
    registers: [this.registry],
  });
  readonly rejectedFrames = new Counter({
    name: "herald_rejected_frames_total",
    help: "Client frames refused.",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });
  readonly closes = new Counter({
    name: "herald_closes_total",
    help: "Connections closed by the edge, by close code.",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });
  readonly ringHits = new Counter({
    name: "herald_ring_hits_total",
    help: "Resumes served from the per-topic ring buffer.",
    registers: [this.registry],
  });
  readonly ringMisses = new Counter({
    name: "herald_ring_misses_total",
    help: "Resumes that needed a read from the backend.",
    registers: [this.registry],
  });
  readonly backendReads = new Counter({
    name: "herald_backend_reads_total",
    help: "Range reads from the durable log (JetStream reads for the NATS backend).",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly gapRepairs = new Counter({
    name: "herald_gap_repairs_total",
    help: "Gaps in a topic's prev chain repaired from the durable log.",
    registers: [this.registry],
  });
  readonly publishLatency = new Histogram({
    name: "herald_publish_seconds",
    help: "Time from publish request to the log's acknowledgement, once per acknowledged publish (duplicates by msgId included).",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly backendUp = new Gauge({
    name: "herald_backend_up",
    help: "1 when the durable log is reachable.",
    registers: [this.registry],
  });
  readonly memoryUsed = new Gauge({
    name: "herald_memory_used_bytes",
    help: "Bytes of the edge's memory budget in use, by what holds them (ring, handover, replay, history, feed, held).",
    labelNames: ["use"] as const,
    registers: [this.registry],
  });
  readonly memoryLimit = new Gauge({
    name: "herald_memory_limit_bytes",
    help: "The edge's memory budget (HERALD_MEMORY_BUDGET_BYTES).",
    registers: [this.registry],
  });
  readonly memoryEvicted = new Counter({
    name: "herald_memory_evicted_bytes_total",
    help: "Bytes of cached messages dropped to stay within the memory budget (resumes read them from the log).",
    registers: [this.registry],
  });
  /** Set by the edge: whether /readyz answers 200 (backend ready, not draining). */
  readiness: () => boolean = () => false;
  readonly ready: Gauge = new Gauge({
    name: "herald_ready",
    help: "1 while the edge is ready for traffic (what /readyz answers): backend ready and not draining.",
    registers: [this.registry],
    collect: (): void => this.ready.set(this.readiness() ? 1 : 0),
  });
  readonly connectionsOpened = new Counter({
    name: "herald_connections_opened_total",
    help: "WebSocket connections accepted (after the upgrade) and SSE streams opened.",
    registers: [this.registry],
  });
  readonly resumes = new Counter({
    name: "herald_resumes_total",
    help: "Subscriptions that asked to resume from a position, by the subok's recovered flag (false: the client must resync from its own source).",
    labelNames: ["recovered"] as const,
    registers: [this.registry],
  });
  readonly publishErrors = new Counter({
    name: "herald_publish_errors_total",
    help: "Publishes whose durable write failed (reason unavailable: the log could not be reached or did not answer; refused: the log refused it).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly jetstreamTimeouts = new Counter({
    name: "herald_jetstream_timeouts_total",
    help: "JetStream requests that got no answer in time, by operation.",
    labelNames: ["op"] as const,
    registers: [this.registry],
  });
  readonly natsConnected = new Gauge({
    name: "herald_nats_connected",
    help: "1 while the edge has a connection to a NATS server (JetStream backend only).",
    registers: [this.registry],
  });
  readonly natsReconnects = new Counter({
    name: "herald_nats_reconnects_total",
    help: "Times the NATS client got its connection back after losing it.",
    registers: [this.registry],
  });
  readonly deliveryLag = new Histogram({
    name: "herald_delivery_lag_seconds",
    help: "Time from a message's ts (when it was published) to the moment this edge queued it to its local subscribers, once per message and edge.",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: "herald_http_requests_total",
    help: "HTTP requests answered, by method, route pattern (unmatched for unknown paths) and status, on both ports.",
    labelNames: ["method", "route", "status"] as const,
    registers: [this.registry],
  });
  readonly limits = new Gauge({
    name: "herald_limit",
    help: "The edge's configured limits (HERALD_* variables), by name.",
    labelNames: ["limit"] as const,
    registers: [this.registry],
  });

  constructor(limits: Record<string, number> = {}) {
    collectDefaultMetrics({ register: this.registry });
    for (const [limit, value] of Object.entries(limits)) this.limits.set({ limit }, value);
  }
}
