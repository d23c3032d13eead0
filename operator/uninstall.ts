// The chart's pre-delete hook (charts/herald/templates/uninstall-hook.yaml): deletes the chart's
// example NotificationService and waits until it is gone, while the operator (and its RBAC) still
// run, so that its finalizer handles the stream (deletePolicy) and its edges go with it. Helm
// deletes custom resources last, after the operator: without this the resource would wait forever.
//   node dist/operator/uninstall.js --namespace NS --name NAME [--timeout-seconds 300]
import { API_VERSION, KIND } from "./spec.js";
import { KubeClient, describeError } from "./kube.js";
import { createLogger } from "../shared/log.js";

function argument(name: string, fallback?: string): string {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? process.argv[index + 1] : fallback;
  if (value === undefined) {
    console.error(`herald-uninstall: --${name} is required`);
    process.exit(2);
  }
  return value;
}

const namespace = argument("namespace");
const name = argument("name");
const timeoutSeconds = Number(argument("timeout-seconds", "300"));
// One JSON line per event, as the operator and the edges log (shared/log.ts).
const logger = createLogger("info", { base: { component: "herald-uninstall" } });
const log = (line: string) => logger.log("info", "uninstall", { detail: line });

const client = KubeClient.fromEnvironment();
const target = { apiVersion: API_VERSION, kind: KIND, metadata: { namespace, name } };
try {
  const existing = await client.read(API_VERSION, KIND, namespace, name);
  if (!existing) {
    log(`${KIND} ${namespace}/${name} does not exist: nothing to do`);
    process.exit(0);
  }
  await client.delete(target);
  log(`deleting ${KIND} ${namespace}/${name}; waiting for the operator to finalize it`);
  const deadline = Date.now() + timeoutSeconds * 1000;
  while (Date.now() < deadline) {
    if (!(await client.read(API_VERSION, KIND, namespace, name))) {
      log(`${KIND} ${namespace}/${name} is gone`);
      process.exit(0);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  console.error(
    `herald-uninstall: ${KIND} ${namespace}/${name} is still there after ${timeoutSeconds} s (is the operator running? kubectl describe notificationservice ${name} -n ${namespace})`,
  );
  process.exit(1);
} catch (error) {
  console.error(`herald-uninstall: ${describeError(error)}`);
  process.exit(1);
}
