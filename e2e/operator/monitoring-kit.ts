// What the monitoring tests share: the chart rendered by real helm with the monitoring objects on,
// and validation of built-in kinds and of the Prometheus Operator's and KEDA's custom resources.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { ROOT, tool } from "./harness.js";
import { validateManifest } from "./kubernetes-schemas.js";

const run = promisify(execFile);

export interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export const MONITORING_ON = [
  "monitoring.podMonitor.enabled=true",
  "monitoring.prometheusRule.enabled=true",
  "monitoring.grafanaDashboard.enabled=true",
  "monitoring.prometheusAdapter.enabled=true",
  "monitoring.prometheusAdapter.namespace=monitoring",
  "monitoring.labels.release=kube-prometheus-stack",
];

export async function helmTemplate(sets: string[] = []): Promise<Rendered[]> {
  const args = ["template", "herald", join(ROOT, "charts/herald"), "--namespace", "herald-system"];
  for (const set of sets) args.push("--set", set);
  const { stdout } = await run(tool("helm"), args, { encoding: "utf8", timeout: 60_000 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Rendered)
    .filter((d) => d !== null);
}

/** Models of the Prometheus Operator's and KEDA's custom resources (their CRDs' OpenAPI schemas). */
const CUSTOM_MODELS: Record<string, string> = {
  "monitoring.coreos.com/v1/PodMonitor":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor",
  "monitoring.coreos.com/v1/PrometheusRule":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule",
  "keda.sh/v1alpha1/ScaledObject": "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject",
};

/** Throws with the schema's message when `object` is not valid, for built-in kinds and those above. */
export async function validateAny(object: Rendered): Promise<void> {
  const custom = CUSTOM_MODELS[`${object.apiVersion}/${object.kind}`];
  if (!custom) return validateManifest(object);
  const module = (await import(custom)) as Record<string, new (data: unknown) => { validate(): void }>;
  new module[object.kind]!(object).validate();
}
