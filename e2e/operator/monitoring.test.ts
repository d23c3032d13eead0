// The operator's side of monitoring, against the fake API server and a real nats-server: the
// Autoscaling condition follows what the HPA reports (a missing metric, then scaling), the
// operator's documented metrics move as docs/operations.md says, and every metric the dashboard and
// the alerts name is in a real scrape of an edge or of the operator.
import { readFileSync } from "node:fs";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import test from "ava";
import { parse } from "yaml";
import {
  checkDocumented,
  documentedMetrics,
  exposedNames,
  metricNamesIn,
  parseScrape,
  scrape,
  seriesOf,
  undocumentedNames,
  type DocumentedMetric,
} from "../harness/metrics-doc.js";
import { startNats } from "../harness/nats-server.js";
import { freePort } from "../harness/free-port.js";
import { startTestEdge } from "../harness/test-edge.js";
import {
  applyResource,
  condition,
  markRollout,
  NS_PATH,
  ROOT,
  startCluster,
  waitFor,
  waitForCondition,
} from "./harness.js";
import { helmTemplate, MONITORING_ON, type Rendered } from "./monitoring-kit.js";
import type { KubeObject } from "../fake-apiserver/store.js";

const HPAS = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";
const HPA_RESOURCE = "autoscaling/horizontalpodautoscalers";
const NS_RESOURCE = "herald.dev/notificationservices";
const REQUEUES = 'controller_runtime_reconcile_total{controller="notificationservice",result="requeue"}';
const ACTIVE_WORKERS = 'controller_runtime_active_workers{controller="notificationservice"}';
const QUEUE_DEPTH = 'workqueue_depth{name="notificationservice"}';

/** What the HPA controller would write (there is none behind the fake API server). */
async function reportHpa(
  cluster: Awaited<ReturnType<typeof startCluster>>,
  name: string,
  status: Record<string, unknown>,
): Promise<void> {
  const hpa = (await waitFor(`the HPA ${name}`, () => cluster.get(`${HPAS}/${name}`)))!;
  await cluster.put(`${HPAS}/${name}/status`, { ...hpa, status });
}

const scalingConditions = (active: { status: string; reason: string; message: string }) => [
  {
    type: "AbleToScale",
    status: "True",
    reason: "ReadyForNewScale",
    message: "recommended size matches current size",
  },
  { type: "ScalingActive", ...active },
  {
    type: "ScalingLimited",
    status: "False",
    reason: "DesiredWithinRange",
    message: "the desired count is within range",
  },
];

test("the Autoscaling condition and the operator's metrics follow the HPA: a missing metric, then scaling", async (t) => {
  t.timeout(180_000);
  const documented = documentedMetrics("Operator metrics");
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  const operator = await cluster.startOperator("op-mon", { HERALD_OPERATOR_RESYNC_SECONDS: "2" });
  const metricsUrl = await waitFor("the operator's metrics port", async () => {
    const port = /listening on :(\d+)/.exec(operator.output())?.[1];
    return port && `http://127.0.0.1:${port}`;
  });
  await waitFor("the operator to lead", () => operator.output().includes("became leader"));
  const before = await scrape(metricsUrl);

  await applyResource(cluster, "scaled", {
    nats: { url: nats.url },
    stream: { replicas: 1 },
    edge: { autoscaling: { enabled: true, min: 2, max: 8, targetConnectionsPerPod: 1000 } },
  });
  // A second resource whose NATS is not there: its reconciles fail and are retried.
  await applyResource(cluster, "unreachable", {
    nats: { url: `nats://127.0.0.1:${await freePort()}` },
    stream: { replicas: 1 },
  });
  await waitFor("the edge Deployment", () =>
    cluster.get("/apis/apps/v1/namespaces/default/deployments/scaled-edge"),
  );
  await markRollout(cluster, "scaled-edge");
  // Before the HPA reports.
  const { condition: pending } = await waitForCondition(cluster, "scaled", "Autoscaling", {
    status: "Unknown",
  });
  t.is(pending.reason, "HPAPending");
  const pendingScrape = await scrape(metricsUrl);

  // The HPA cannot read herald_connections (no prometheus-adapter): ScalingActive False.
  await reportHpa(cluster, "scaled-edge", {
    currentReplicas: 2,
    desiredReplicas: 2,
    currentMetrics: [
      {
        type: "Resource",
        resource: { name: "cpu", current: { averageUtilization: 12, averageValue: "30m" } },
      },
    ],
    conditions: scalingConditions({
      status: "False",
      reason: "FailedGetPodsMetric",
      message:
        "the HPA was unable to compute the replica count: unable to get metric herald_connections: unable to fetch metrics from custom metrics API: the server could not find the metric herald_connections for pods",
    }),
  });
  const { condition: missing } = await waitForCondition(cluster, "scaled", "Autoscaling", {
    status: "False",
  });
  t.is(missing.reason, "FailedGetPodsMetric");
  t.regex(missing.message, /ScalingActive: .*herald_connections.*desired 2, current 2 replicas/);
  const resource = (await cluster.get(`${NS_PATH}/scaled`)) as KubeObject & {
    status: { autoscaling?: { desiredReplicas: number; currentReplicas: number } };
  };
  t.deepEqual(resource.status.autoscaling, { desiredReplicas: 2, currentReplicas: 2 });
  t.is(condition(resource, "Ready")?.status, "True", "Autoscaling does not change Ready");
  const during = await waitFor("the HPA gauges", async () => {
    const samples = await scrape(metricsUrl);
    return (
      samples.get(
        'herald_notificationservice_hpa_condition{namespace="default",name="scaled",condition="ScalingActive"}',
      ) === 0 && samples
    );
  });

  // The adapter is installed: the HPA reads both metrics and scales to 4.
  await reportHpa(cluster, "scaled-edge", {
    currentReplicas: 2,
    desiredReplicas: 4,
    currentMetrics: [
      {
        type: "Resource",
        resource: { name: "cpu", current: { averageUtilization: 12, averageValue: "30m" } },
      },
      { type: "Pods", pods: { metric: { name: "herald_connections" }, current: { averageValue: "2000" } } },
    ],
    conditions: scalingConditions({
      status: "True",
      reason: "ValidMetricFound",
      message:
        "the HPA was able to successfully calculate a replica count from pods metric herald_connections",
    }),
  });
  const { condition: active } = await waitForCondition(cluster, "scaled", "Autoscaling", { status: "True" });
  t.is(active.reason, "ScalingActive");
  t.regex(active.message, /desired 4, current 2 replicas/);
  await waitFor(
    "retries of the unreachable resource",
    async () =>
      ((await scrape(metricsUrl)).get('workqueue_retries_total{name="notificationservice"}') ?? 0) >= 2,
  );

  // An update conflict: another writer keeps changing the resource (an annotation) between the
  // operator's read and its status write, while the HPA's status keeps changing so that each
  // reconcile has a status to write. The write that loses is a requeue, not an error.
  const store = cluster.api.store;
  const hpaStatus = store.get(HPA_RESOURCE, "default", "scaled-edge").status as Record<string, unknown>;
  let bump = 0;
  const contend = setInterval(() => {
    bump++;
    const ns = store.get(NS_RESOURCE, "default", "scaled");
    store.update(
      NS_RESOURCE,
      {
        ...ns,
        metadata: {
          ...ns.metadata,
          resourceVersion: undefined,
          annotations: {
            ...(ns.metadata.annotations as Record<string, string> | undefined),
            "test.herald.dev/bump": String(bump),
          },
        },
      },
      true,
    );
    if (bump % 10 === 0) {
      const hpa = store.get(HPA_RESOURCE, "default", "scaled-edge");
      store.update(
        HPA_RESOURCE,
        { ...hpa, status: { ...hpaStatus, desiredReplicas: 4 + ((bump / 10) % 2) } },
        false,
      );
    }
  }, 2);
  try {
    await waitFor(
      "a reconcile that lost an update conflict",
      async () => ((await scrape(metricsUrl)).get(REQUEUES) ?? 0) > (before.get(REQUEUES) ?? 0),
      60_000,
    );
  } finally {
    clearInterval(contend);
  }
  // The HPA's status as before the contention: desired 4, current 2.
  const hpa = store.get(HPA_RESOURCE, "default", "scaled-edge");
  store.update(HPA_RESOURCE, { ...hpa, status: hpaStatus }, false);
  await waitFor(
    "the replicas gauge back at 4",
    async () =>
      (await scrape(metricsUrl)).get(
        'herald_notificationservice_replicas{namespace="default",name="scaled",kind="desired"}',
      ) === 4,
  );
  const after = await scrape(metricsUrl);

  // A resource deleted: its series go with it.
  await cluster.kubectl("delete", "notificationservice", "unreachable", "--wait=false");
  await waitFor(
    "the deleted resource's ready series to go",
    async () =>
      !(await scrape(metricsUrl)).has(
        'herald_notificationservice_ready{namespace="default",name="unreachable"}',
      ),
  );

  // Both workers held: two resources whose NATS accepts the connection and never answers, so each
  // reconcile waits out the connect timeout (5 s) while the others' keys wait in the queue.
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const silentUrl = `nats://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  for (const name of ["silent-a", "silent-b"])
    await applyResource(cluster, name, { nats: { url: silentUrl }, stream: { replicas: 1 } });
  const held = await waitFor(
    "both workers busy and a key waiting",
    async () => {
      const samples = await scrape(metricsUrl);
      return samples.get(ACTIVE_WORKERS) === 2 && (samples.get(QUEUE_DEPTH) ?? 0) > 0 && samples;
    },
    30_000,
  );

  const gauges: Record<string, () => void> = {
    controller_runtime_active_workers: () => {
      t.is(before.get(ACTIVE_WORKERS), 0, "no reconcile before any resource");
      t.is(held.get(ACTIVE_WORKERS), 2, "both workers in a reconcile");
    },
    controller_runtime_max_concurrent_reconciles: () =>
      t.is(after.get('controller_runtime_max_concurrent_reconciles{controller="notificationservice"}'), 2),
    workqueue_depth: () => {
      t.is(before.get(QUEUE_DEPTH), 0, "nothing queued before any resource");
      t.true(held.get(QUEUE_DEPTH)! > 0, "keys wait while both workers are busy");
    },
    herald_operator_leader: () => {
      t.is(before.get("herald_operator_leader"), 1);
      t.is(after.get("herald_operator_leader"), 1);
    },
    herald_notificationservice_ready: () => {
      t.is(after.get('herald_notificationservice_ready{namespace="default",name="scaled"}'), 1);
      t.is(after.get('herald_notificationservice_ready{namespace="default",name="unreachable"}'), 0);
    },
    herald_notificationservice_hpa_condition: () => {
      const series = (s: Map<string, number>, condition: string) =>
        s.get(
          `herald_notificationservice_hpa_condition{namespace="default",name="scaled",condition="${condition}"}`,
        );
      t.is(series(during, "AbleToScale"), 1);
      t.is(series(after, "ScalingActive"), 1, "0 while the metric was missing, 1 since");
      t.is(series(after, "ScalingLimited"), 0);
    },
    herald_notificationservice_autoscaling: () => {
      const series = 'herald_notificationservice_autoscaling{namespace="default",name="scaled"}';
      t.false(pendingScrape.has(series), "no series while the condition is Unknown");
      t.is(during.get(series), 0, "False while the HPA could not read its metric");
      t.is(after.get(series), 1, "True once it scales");
    },
    herald_notificationservice_replicas: () => {
      t.is(
        after.get('herald_notificationservice_replicas{namespace="default",name="scaled",kind="desired"}'),
        4,
      );
      t.is(
        after.get('herald_notificationservice_replicas{namespace="default",name="scaled",kind="current"}'),
        2,
      );
    },
  };
  /** Counters this scenario cannot move, and the test that does. */
  const elsewhere: Record<string, string> = {
    herald_operator_watch_restarts_total: "e2e/operator/resilience.test.ts",
  };

  checkDocumented(t, documented, after, gauges, (metric) => {
    if (elsewhere[metric.name]) {
      t.true(readFileSync(join(ROOT, elsewhere[metric.name]!), "utf8").includes(metric.name));
    } else {
      t.true(total(after, metric) > total(before, metric), `${metric.name} rose`);
      // Each label value the table lists, too (e.g. result success, error and requeue).
      for (const [label, values] of metric.values)
        for (const value of values)
          t.true(
            total(after, metric, { [label]: value }) > total(before, metric, { [label]: value }),
            `${metric.name}{${label}="${value}"} rose`,
          );
    }
  });
  const undocumented = undocumentedNames(
    exposedNames(after),
    documented,
    /^(herald_|controller_runtime_|workqueue_)/,
  );
  t.deepEqual(undocumented, [], "every operator metric is in docs/operations.md");
  t.true(
    (after.get('controller_runtime_reconcile_errors_total{controller="notificationservice"}') ?? 0) > 0,
    "the unreachable resource's reconciles failed",
  );

  // Every metric the dashboard and the alerts name is in a real scrape: this operator's, or an edge's.
  const edge = await startTestEdge(t);
  const edgeScrape = parseScrape(await (await fetch(`${edge.metricsUrl}/metrics`)).text());
  const families = (text: Map<string, number>, raw: string) =>
    new Set([...exposedNames(text), ...typeLines(raw)]);
  const known = new Set([
    ...families(edgeScrape, await (await fetch(`${edge.metricsUrl}/metrics`)).text()),
    ...families(after, await (await fetch(`${metricsUrl}/metrics`)).text()),
  ]);
  const objects = await helmTemplate(MONITORING_ON);
  const expressions = [
    ...dashboardExpressions(objects),
    ...alertExpressions(objects),
    ...adapterExpressions(objects),
  ];
  t.true(expressions.length > 30, `${expressions.length} expressions`);
  for (const { where, expr } of expressions) {
    const names = metricNamesIn(expr);
    t.true(names.length > 0, `${where} names a metric: ${expr}`);
    for (const name of names) t.true(known.has(name), `${where}: ${name} is in a real scrape (${expr})`);
  }
});

function total(
  samples: Map<string, number>,
  metric: DocumentedMetric,
  filter: Record<string, string> = {},
): number {
  return seriesOf(samples, metric)
    .filter(({ labels }) => Object.entries(filter).every(([k, v]) => labels[k] === v))
    .reduce((sum, { value }) => sum + value, 0);
}

/** Metric families a scrape declares (# TYPE), with or without samples yet. */
function typeLines(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
    type === "histogram" ? [name!, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!],
  );
}

function dashboardExpressions(objects: Rendered[]): { where: string; expr: string }[] {
  const configMap = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name.endsWith("-dashboard")) as
    (Rendered & { data: Record<string, string> }) | undefined;
  const dashboard = JSON.parse(configMap!.data["herald.json"]!) as {
    panels: { title: string; targets?: { expr: string }[] }[];
    templating: { list: { name: string; query?: { query: string } | string }[] };
  };
  const panels = dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((target) => ({ where: `panel "${p.title}"`, expr: target.expr })),
  );
  const variables = dashboard.templating.list
    .filter((v) => typeof v.query === "object")
    .map((v) => ({
      where: `variable ${v.name}`,
      expr: (v.query as { query: string }).query.replace(/^label_values\((.*),\s*\w+\)$/, "$1"),
    }));
  return [...panels, ...variables];
}

function alertExpressions(objects: Rendered[]): { where: string; expr: string }[] {
  const rule = objects.find((o) => o.kind === "PrometheusRule") as Rendered & {
    spec: { groups: { rules: { alert: string; expr: string }[] }[] };
  };
  return rule.spec.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
}

function adapterExpressions(objects: Rendered[]): { where: string; expr: string }[] {
  const configMap = objects.find(
    (o) => o.kind === "ConfigMap" && o.metadata.name === "herald-prometheus-adapter",
  ) as Rendered & {
    data: Record<string, string>;
  };
  const config = parse(configMap.data["config.yaml"]!) as { rules: { seriesQuery: string }[] };
  const seriesQuery = config.rules[0]!.seriesQuery;
  return [{ where: "prometheus-adapter rule", expr: seriesQuery }];
}
