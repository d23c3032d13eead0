import test from "ava";
import { loadOperatorSettings } from "./settings.js";

test("defaults, and one clear line per bad value", (t) => {
  const settings = loadOperatorSettings({ POD_NAME: "op-1" });
  t.like(settings, {
    identity: "op-1",
    leaseNamespace: "default",
    watchNamespace: undefined,
    leaseName: "herald-operator",
    leaseSeconds: 15,
    port: 8081,
    workers: 2,
    resyncSeconds: 300,
    stuckSeconds: 300,
  });
  t.is(loadOperatorSettings({ HERALD_OPERATOR_NAMESPACE: "team-a" }).watchNamespace, "team-a");
  const error = t.throws(() =>
    loadOperatorSettings({ HERALD_OPERATOR_LEASE_SECONDS: "0", HERALD_OPERATOR_WORKERS: "two" }),
  );
  t.is(
    error!.message,
    'invalid operator configuration:\n  HERALD_OPERATOR_LEASE_SECONDS must be a whole number >= 1, got "0"\n  HERALD_OPERATOR_WORKERS must be a whole number >= 1, got "two"',
  );
});
