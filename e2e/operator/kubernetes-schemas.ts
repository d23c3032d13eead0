// Validates Kubernetes objects against the Kubernetes API schemas (kubernetes-models), and
// NotificationServices against the generated CRD's own OpenAPI schema: what a real API server checks.
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { parse } from "yaml";

const CRD_PATH = new URL("../../crds/notificationservices.herald.dev.yaml", import.meta.url);

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;

/** Throws with the schema's message when `manifest` is not a valid object of its kind. */
export async function validateManifest(manifest: { apiVersion?: unknown; kind?: unknown }): Promise<void> {
  const { apiVersion, kind } = manifest;
  if (typeof apiVersion !== "string" || typeof kind !== "string")
    throw new Error(`manifest without apiVersion/kind: ${JSON.stringify(manifest).slice(0, 200)}`);
  if (apiVersion.startsWith("herald.dev/")) return validateNotificationService(manifest);
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0]! : "";
  // Custom resources of other projects, from their @kubernetes-models packages.
  const packageOf: Record<string, string> = {
    "gateway.networking.k8s.io": "@kubernetes-models/gateway-api",
    "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
    "keda.sh": "@kubernetes-models/keda",
  };
  const modulePath = `${packageOf[group] ?? "kubernetes-models"}/${apiVersion}/${kind}`;
  const module = (await import(modulePath)) as Record<string, ModelClass>;
  const Model = module[kind];
  if (!Model) throw new Error(`no Kubernetes schema for ${apiVersion} ${kind}`);
  new Model(manifest).validate();
}

let crdValidator:
  | (((value: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null })
  | undefined;

export function crdSchema(): Record<string, unknown> {
  const crd = parse(readFileSync(CRD_PATH, "utf8")) as {
    spec: { versions: { schema: { openAPIV3Schema: Record<string, unknown> } }[] };
  };
  return crd.spec.versions[0]!.schema.openAPIV3Schema;
}

/** Defaults then validates, in the API server's order, on a copy of `resource`. */
export function validateNotificationService(resource: unknown): void {
  crdValidator ??= new Ajv({
    allErrors: true,
    strict: false,
    useDefaults: true,
    validateFormats: false,
  }).compile(crdSchema());
  if (!crdValidator(structuredClone(resource))) {
    throw new Error((crdValidator.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join("; "));
  }
}
