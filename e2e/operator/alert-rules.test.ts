// The chart's alerts fire when docs/operations.md's alert table says, and not otherwise: the
// rendered PrometheusRule through `promtool test rules`, with series as the edges and the operator
// expose them (the labels the PodMonitors add included), for each alert a firing case and a
// healthy one. The annotations (checked in monitoring-chart.test.ts) are left out here.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import test from "ava";
import { stringify } from "yaml";
import { helmTemplate, MONITORING_ON, type Rendered } from "./monitoring-kit.js";

const run = promisify(execFile);

/** An edge's series labels, as its PodMonitor leaves them. */
const EDGE = 'namespace="prod",pod="news-edge-0",notificationservice="news"';
const OTHER = 'namespace="prod",pod="news-edge-1",notificationservice="news"';
const EDGE_LABELS = { namespace: "prod", pod: "news-edge-0", notificationservice: "news" };
const NS = 'namespace="prod",name="news"';

interface Case {
  readonly alert: string;
  readonly series: Record<string, string>;
  readonly at: string;
  /** The labels of each alert expected to fire (severity included); none for a healthy case. */
  readonly fires: Record<string, string>[];
}

const cases: Case[] = [
  {
    alert: "HeraldEdgeNotReady",
    series: { [`herald_ready{${EDGE}}`]: "0x10", [`herald_ready{${OTHER}}`]: "1x10" },
    at: "6m",
    fires: [{ severity: "warning", ...EDGE_LABELS }],
  },
  { alert: "HeraldEdgeNotReady", series: { [`herald_ready{${EDGE}}`]: "0x3 1x7" }, at: "6m", fires: [] },
  {
    alert: "HeraldBackendDown",
    series: { [`herald_backend_up{${EDGE}}`]: "0x5" },
    at: "3m",
    fires: [{ severity: "critical", ...EDGE_LABELS }],
  },
  { alert: "HeraldBackendDown", series: { [`herald_backend_up{${EDGE}}`]: "0x1" }, at: "1m", fires: [] },
  {
    alert: "HeraldNatsDisconnected",
    series: { [`herald_nats_connected{${EDGE}}`]: "0x5", [`herald_backend_up{${EDGE}}`]: "0x5" },
    at: "3m",
    fires: [{ severity: "critical", ...EDGE_LABELS }],
  },
  {
    // An embedded edge: no NATS, and its log is up.
    alert: "HeraldNatsDisconnected",
    series: { [`herald_nats_connected{${EDGE}}`]: "0x5", [`herald_backend_up{${EDGE}}`]: "1x5" },
    at: "3m",
    fires: [],
  },
  {
    // 2 closes with 4008 per second on each of two edges, for 20 minutes.
    alert: "HeraldSlowConsumers",
    series: {
      [`herald_closes_total{${EDGE},code="4008"}`]: "0+120x20",
      [`herald_closes_total{${OTHER},code="4008"}`]: "0+120x20",
      [`herald_closes_total{${EDGE},code="1001"}`]: "0+600x20",
    },
    at: "20m",
    fires: [{ severity: "warning", namespace: "prod", notificationservice: "news" }],
  },
  {
    alert: "HeraldSlowConsumers",
    series: {
      [`herald_closes_total{${EDGE},code="4008"}`]: "0+30x20",
      [`herald_closes_total{${EDGE},code="1001"}`]: "0+600x20",
    },
    at: "20m",
    fires: [],
  },
  {
    alert: "HeraldResumesNotRecovered",
    series: {
      [`herald_resumes_total{${EDGE},recovered="false"}`]: "0+120x20",
      [`herald_resumes_total{${EDGE},recovered="true"}`]: "0+6000x20",
    },
    at: "20m",
    fires: [{ severity: "warning", namespace: "prod", notificationservice: "news" }],
  },
  {
    alert: "HeraldResumesNotRecovered",
    series: { [`herald_resumes_total{${EDGE},recovered="true"}`]: "0+6000x20" },
    at: "20m",
    fires: [],
  },
  {
    alert: "HeraldGapRepairsSpiking",
    series: {
      [`herald_gap_repairs_total{${EDGE}}`]: "0+120x20",
      [`herald_gap_repairs_total{${OTHER}}`]: "0+6x20",
    },
    at: "20m",
    fires: [{ severity: "warning", namespace: "prod", pod: "news-edge-0" }],
  },
  {
    // A burst of five minutes, not ten.
    alert: "HeraldGapRepairsSpiking",
    series: { [`herald_gap_repairs_total{${EDGE}}`]: "0x10 0+120x5 600x10" },
    at: "20m",
    fires: [],
  },
  {
    alert: "HeraldOperatorNoLeader",
    series: {
      'herald_operator_leader{namespace="herald-system",pod="herald-a"}': "0x10",
      'herald_operator_leader{namespace="herald-system",pod="herald-b"}': "0x10",
    },
    at: "6m",
    fires: [{ severity: "critical" }],
  },
  {
    // No operator scraped at all: nobody leads either.
    alert: "HeraldOperatorNoLeader",
    series: {},
    at: "6m",
    fires: [{ severity: "critical" }],
  },
  {
    alert: "HeraldOperatorNoLeader",
    series: {
      'herald_operator_leader{namespace="herald-system",pod="herald-a"}': "0x10",
      'herald_operator_leader{namespace="herald-system",pod="herald-b"}': "1x10",
    },
    at: "6m",
    fires: [],
  },
  {
    alert: "HeraldReconcileFailing",
    series: { 'controller_runtime_reconcile_errors_total{controller="notificationservice"}': "0+1x30" },
    at: "30m",
    fires: [{ severity: "warning", controller: "notificationservice" }],
  },
  {
    // A failure now and then, not for 15 minutes on end.
    alert: "HeraldReconcileFailing",
    series: { 'controller_runtime_reconcile_errors_total{controller="notificationservice"}': "0x10 1x20" },
    at: "30m",
    fires: [],
  },
  {
    alert: "HeraldNotificationServiceNotReady",
    series: { [`herald_notificationservice_ready{${NS}}`]: "0x20" },
    at: "16m",
    fires: [{ severity: "warning", namespace: "prod", name: "news" }],
  },
  {
    alert: "HeraldNotificationServiceNotReady",
    series: { [`herald_notificationservice_ready{${NS}}`]: "0x10 1x10" },
    at: "16m",
    fires: [],
  },
  {
    // MetricMissing, then FailedGetPodsMetric: False all along, so it fires.
    alert: "HeraldAutoscalingCannotScale",
    series: { [`herald_notificationservice_autoscaling{${NS}}`]: "0x20" },
    at: "16m",
    fires: [{ severity: "warning", namespace: "prod", name: "news" }],
  },
  {
    alert: "HeraldAutoscalingCannotScale",
    series: { [`herald_notificationservice_autoscaling{${NS}}`]: "1x20" },
    at: "16m",
    fires: [],
  },
];

test("promtool test rules: each alert fires when docs/operations.md says, and a healthy case does not", async (t) => {
  const rule = (await helmTemplate(MONITORING_ON)).find((o) => o.kind === "PrometheusRule") as Rendered & {
    spec: { groups: { name: string; rules: Record<string, unknown>[] }[] };
  };
  const groups = rule.spec.groups.map((group) => ({
    ...group,
    rules: group.rules.map(({ annotations: _annotations, ...rest }) => rest),
  }));
  const alerts = groups.flatMap((g) => g.rules.map((r) => r.alert as string));
  for (const alert of alerts) {
    t.true(
      cases.some((c) => c.alert === alert && c.fires.length > 0),
      `${alert} has a case that fires`,
    );
    t.true(
      cases.some((c) => c.alert === alert && c.fires.length === 0),
      `${alert} has a case that does not`,
    );
  }

  const dir = mkdtempSync(join(tmpdir(), "herald-alerts-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "herald.rules.yaml"), stringify({ groups }));
  const tests = cases.map((c) => ({
    name: `${c.alert} ${c.fires.length > 0 ? "fires" : "stays quiet"}`,
    interval: "1m",
    input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
    alert_rule_test: [
      { eval_time: c.at, alertname: c.alert, exp_alerts: c.fires.map((labels) => ({ exp_labels: labels })) },
    ],
  }));
  writeFileSync(
    join(dir, "herald.test.yaml"),
    stringify({ rule_files: ["herald.rules.yaml"], evaluation_interval: "1m", tests }),
  );
  const result = await run("promtool", ["test", "rules", "herald.test.yaml"], {
    cwd: dir,
    encoding: "utf8",
  }).then(
    (r) => ({ ok: true, output: r.stdout + r.stderr }),
    (error: { stdout: string; stderr: string }) => ({ ok: false, output: error.stdout + error.stderr }),
  );
  t.true(result.ok, result.output);
  t.regex(result.output, /SUCCESS/);
});
