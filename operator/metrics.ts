// The operator's Prometheus metrics, one registry per process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: "herald_operator_reconciles_total",
    help: "Reconciles by result (success, error, conflict).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: "herald_operator_reconcile_seconds",
    help: "Time to reconcile one NotificationService.",
    registers: [this.registry],
  });
  /** Set by the controller: how many keys wait in its queue. */
  queueLength: () => number = () => 0;
  readonly queueDepth: Gauge = new Gauge({
    name: "herald_operator_queue_depth",
    help: "Keys waiting in the work queue.",
    registers: [this.registry],
    collect: (): void => this.queueDepth.set(this.queueLength()),
  });
  readonly leader = new Gauge({
    name: "herald_operator_leader",
    help: "1 while this replica holds the leader lease.",
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: "herald_operator_watch_restarts_total",
    help: "Watches that ended or failed and were re-listed.",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
