// The operator's Prometheus metrics, one registry per process. Reconcile and work-queue metrics
// carry controller-runtime's names and labels, so dashboards and alerts made for Go operators work
// unchanged; the herald_* ones are the operator's own (docs/operations.md#operator-metrics).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { QueueObserver } from "./queue.js";

/** controller-runtime's `controller` label and client-go's work queue `name`. */
export const CONTROLLER = "notificationservice";

/** controller-runtime's reconcile_time_seconds buckets. */
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5,
  1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
/** client-go's work queue duration buckets (1 µs to 10 s, by tens). */
const QUEUE_BUCKETS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];

export type ReconcileResult = "success" | "error" | "requeue";

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: "controller_runtime_reconcile_total",
    help: "Reconciles by result (success, error, requeue: an update conflict, run again).",
    labelNames: ["controller", "result"] as const,
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: "controller_runtime_reconcile_errors_total",
    help: "Reconciles that failed (retried with backoff).",
    labelNames: ["controller"] as const,
    registers: [this.registry],
  });
  readonly reconcileTime = new Histogram({
    name: "controller_runtime_reconcile_time_seconds",
    help: "Time to reconcile one NotificationService.",
    labelNames: ["controller"] as const,
    buckets: RECONCILE_BUCKETS,
    registers: [this.registry],
  });
  readonly activeWorkers = new Gauge({
    name: "controller_runtime_active_workers",
    help: "Reconciles running now.",
    labelNames: ["controller"] as const,
    registers: [this.registry],
  });
  readonly maxConcurrentReconciles = new Gauge({
    name: "controller_runtime_max_concurrent_reconciles",
    help: "Workers (HERALD_OPERATOR_WORKERS).",
    labelNames: ["controller"] as const,
    registers: [this.registry],
  });
  /** Set by the controller: how many keys wait in its queue. */
  queueLength: () => number = () => 0;
  readonly queueDepth: Gauge<"name"> = new Gauge({
    name: "workqueue_depth",
    help: "Keys waiting in the work queue.",
    labelNames: ["name"] as const,
    registers: [this.registry],
    collect: (): void => this.queueDepth.set({ name: CONTROLLER }, this.queueLength()),
  });
  readonly queueAdds = new Counter({
    name: "workqueue_adds_total",
    help: "Keys added to the work queue.",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });
  readonly queueRetries = new Counter({
    name: "workqueue_retries_total",
    help: "Keys queued again after a failed reconcile.",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });
  readonly queueDuration = new Histogram({
    name: "workqueue_queue_duration_seconds",
    help: "How long a key waited in the queue before a worker took it.",
    labelNames: ["name"] as const,
    buckets: QUEUE_BUCKETS,
    registers: [this.registry],
  });
  readonly workDuration = new Histogram({
    name: "workqueue_work_duration_seconds",
    help: "How long a worker spent on a key.",
    labelNames: ["name"] as const,
    buckets: QUEUE_BUCKETS,
    registers: [this.registry],
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
  readonly ready = new Gauge({
    name: "herald_notificationservice_ready",
    help: "1 while the NotificationService's Ready condition is True.",
    labelNames: ["namespace", "name"] as const,
    registers: [this.registry],
  });
  readonly hpaCondition = new Gauge({
    name: "herald_notificationservice_hpa_condition",
    help: "The edges' HPA's conditions (AbleToScale, ScalingActive, ScalingLimited): 1 True, 0 otherwise.",
    labelNames: ["namespace", "name", "condition"] as const,
    registers: [this.registry],
  });
  readonly autoscaling = new Gauge({
    name: "herald_notificationservice_autoscaling",
    help: "The NotificationService's Autoscaling condition: 1 True (the HPA reads every metric and can scale), 0 False (it cannot scale, or a metric is missing and it never scales down); no series while Unknown or with autoscaling off.",
    labelNames: ["namespace", "name"] as const,
    registers: [this.registry],
  });
  readonly replicas = new Gauge({
    name: "herald_notificationservice_replicas",
    help: "The edges' HPA's desired and current replicas.",
    labelNames: ["namespace", "name", "kind"] as const,
    registers: [this.registry],
  });

  constructor(workers = 1) {
    collectDefaultMetrics({ register: this.registry });
    const controller = { controller: CONTROLLER };
    // Every series an alert or dashboard reads exists from the start, at 0.
    for (const result of ["success", "error", "requeue"] as const)
      this.reconciles.inc({ ...controller, result }, 0);
    this.reconcileErrors.inc(controller, 0);
    this.activeWorkers.set(controller, 0);
    this.maxConcurrentReconciles.set(controller, workers);
    this.queueAdds.inc({ name: CONTROLLER }, 0);
    this.queueRetries.inc({ name: CONTROLLER }, 0);
  }

  reconciled(result: ReconcileResult, seconds: number): void {
    const controller = { controller: CONTROLLER };
    this.reconciles.inc({ ...controller, result });
    if (result === "error") this.reconcileErrors.inc(controller);
    this.reconcileTime.observe(controller, seconds);
  }

  /** What the work queue reports, into the workqueue_* metrics. */
  readonly queue: QueueObserver = {
    added: () => this.queueAdds.inc({ name: CONTROLLER }),
    retried: () => this.queueRetries.inc({ name: CONTROLLER }),
    waited: (seconds) => this.queueDuration.observe({ name: CONTROLLER }, seconds),
    worked: (seconds) => this.workDuration.observe({ name: CONTROLLER }, seconds),
  };

  /** A NotificationService is gone: its series go too. */
  forget(namespace: string, name: string): void {
    this.ready.remove({ namespace, name });
    this.forgetAutoscaling(namespace, name);
  }

  forgetAutoscaling(namespace: string, name: string): void {
    for (const condition of ["AbleToScale", "ScalingActive", "ScalingLimited"])
      this.hpaCondition.remove({ namespace, name, condition });
    for (const kind of ["desired", "current"]) this.replicas.remove({ namespace, name, kind });
    this.autoscaling.remove({ namespace, name });
  }

  /**
   * The Autoscaling condition's series: 1 True, 0 False, none while Unknown. No reason label, so
   * that an alert's `for` holds while the reason changes (FailedGetPodsMetric, MetricMissing, …).
   */
  setAutoscaling(namespace: string, name: string, condition: { status: boolean | "Unknown" }): void {
    if (condition.status === "Unknown") this.autoscaling.remove({ namespace, name });
    else this.autoscaling.set({ namespace, name }, condition.status ? 1 : 0);
  }
}
