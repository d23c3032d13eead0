// Prometheus metrics of one edge. A registry per edge instance (not prom-client's global one), so
// several edges can run in one process in tests.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class EdgeMetrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({
    name: "herald_connections",
    help: "Open WebSocket connections.",
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
    help: "Time from publish request to durable acknowledgement.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly backendUp = new Gauge({
    name: "herald_backend_up",
    help: "1 when the durable log is reachable.",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
