// The chart's monitoring objects through real helm: off by default; on, the operator's PodMonitor,
// the PrometheusRule, the Grafana dashboard ConfigMap and prometheus-adapter's rule ConfigMap,
// each validated against its schema (@kubernetes-models/prometheus-operator for the CRDs,
// kubernetes-models for ConfigMaps); `promtool check rules` on the rendered rules; every alert
// links a runbook section that docs/operations.md has.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import test from "ava";
import { parse, stringify } from "yaml";
import { OPERATIONS_DOC } from "../harness/metrics-doc.js";
import { helmTemplate, MONITORING_ON, validateAny, type Rendered } from "./monitoring-kit.js";

const run = promisify(execFile);

const kinds = (objects: Rendered[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`);

test("monitoring objects are off by default", async (t) => {
  const objects = await helmTemplate();
  t.false(
    objects.some((o) => ["PodMonitor", "PrometheusRule"].includes(o.kind)),
    kinds(objects).join(" "),
  );
  t.false(
    objects.some((o) => o.kind === "ConfigMap" && /dashboard|prometheus-adapter/.test(o.metadata.name)),
  );
});

test("on: PodMonitor, PrometheusRule, dashboard and adapter ConfigMaps, each valid against its schema", async (t) => {
  const objects = await helmTemplate(MONITORING_ON);
  for (const object of objects)
    await t.notThrowsAsync(validateAny(object), `${object.kind} ${object.metadata.name}`);
  const find = (kind: string, name: RegExp) =>
    objects.find((o) => o.kind === kind && name.test(o.metadata.name));

  const podMonitor = find("PodMonitor", /herald/) as Rendered & {
    spec: {
      selector: { matchLabels: Record<string, string> };
      podMetricsEndpoints: { port: string; honorLabels?: boolean }[];
    };
  };
  t.is(podMonitor.metadata.labels?.release, "kube-prometheus-stack");
  t.deepEqual(
    podMonitor.spec.podMetricsEndpoints.map((e) => e.port),
    ["metrics"],
  );
  // herald_notificationservice_*{namespace, name} name the resource's namespace, which alerts and
  // the dashboard select by: Prometheus must keep it rather than the operator pod's.
  t.true(podMonitor.spec.podMetricsEndpoints[0]!.honorLabels);
  const operator = objects.find((o) => o.kind === "Deployment") as Rendered & {
    spec: { template: { metadata: { labels: Record<string, string> } } };
  };
  for (const [key, value] of Object.entries(podMonitor.spec.selector.matchLabels))
    t.is(operator.spec.template.metadata.labels[key], value, `the PodMonitor selects the operator (${key})`);

  const dashboard = find("ConfigMap", /-dashboard$/) as Rendered & { data: Record<string, string> };
  t.is(dashboard.metadata.labels?.grafana_dashboard, "1");
  const json = JSON.parse(dashboard.data["herald.json"]!) as { title: string; panels: unknown[] };
  t.is(json.title, "Herald");
  t.true(json.panels.length > 10);

  const adapter = find("ConfigMap", /^herald-prometheus-adapter$/) as Rendered & {
    data: Record<string, string>;
  };
  t.is(adapter.metadata.namespace, "monitoring");
  const config = parse(adapter.data["config.yaml"]!) as {
    rules: {
      seriesQuery: string;
      resources: { overrides: Record<string, { resource: string }> };
      name: { as: string };
      metricsQuery: string;
    }[];
  };
  t.is(config.rules.length, 1);
  const [rule] = config.rules;
  t.regex(rule!.seriesQuery, /^herald_connections\{/);
  t.is(rule!.name.as, "herald_connections", "the Pods metric the HPA asks for");
  t.deepEqual(rule!.resources.overrides, { namespace: { resource: "namespace" }, pod: { resource: "pod" } });
  t.regex(rule!.metricsQuery, /<<\.Series>>\{<<\.LabelMatchers>>\}/);
});

test("promtool check rules passes on the rendered PrometheusRule; every alert has a runbook in docs/operations.md", async (t) => {
  const rule = (await helmTemplate(MONITORING_ON)).find((o) => o.kind === "PrometheusRule") as Rendered & {
    spec: { groups: { name: string; rules: { alert: string; annotations: Record<string, string> }[] }[] };
  };
  const dir = mkdtempSync(join(tmpdir(), "herald-rules-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "herald.rules.yaml");
  writeFileSync(file, stringify({ groups: rule.spec.groups }));
  const { stdout } = await run("promtool", ["check", "rules", file], { encoding: "utf8" });
  t.regex(stdout, /SUCCESS: 10 rules found/);

  const doc = readFileSync(OPERATIONS_DOC, "utf8");
  const alerts = rule.spec.groups.flatMap((g) => g.rules);
  for (const alert of alerts) {
    const anchor = alert.annotations.runbook_url!.split("#")[1];
    t.is(anchor, alert.alert.toLowerCase());
    t.true(doc.includes(`\n### ${alert.alert}\n`), `docs/operations.md has a runbook for ${alert.alert}`);
    t.true(doc.includes(`| \`${alert.alert}\` |`), `docs/operations.md's alert table lists ${alert.alert}`);
  }
  t.deepEqual(alerts.map((a) => a.alert).sort(), [
    "HeraldAutoscalingCannotScale",
    "HeraldBackendDown",
    "HeraldEdgeNotReady",
    "HeraldGapRepairsSpiking",
    "HeraldNatsDisconnected",
    "HeraldNotificationServiceNotReady",
    "HeraldOperatorNoLeader",
    "HeraldReconcileFailing",
    "HeraldResumesNotRecovered",
    "HeraldSlowConsumers",
  ]);
});
