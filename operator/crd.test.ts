// Conventions of the CRD as users install it (the generated file): conditions a map list keyed by
// type (server-side apply merges them by type, kubectl and controllers read them as such), and
// the Ready condition's status and reason as printer columns.
import { readFileSync } from "node:fs";
import test from "ava";
import { parse } from "yaml";
import { CRD_FILES } from "./crd-files.js";

interface Version {
  schema: {
    openAPIV3Schema: {
      properties: { status: { properties: { conditions: Record<string, unknown> & { items: unknown } } } };
    };
  };
  additionalPrinterColumns: { name: string; jsonPath: string; priority?: number }[];
}

const versions = CRD_FILES.map(
  (file) => (parse(readFileSync(file, "utf8")) as { spec: { versions: Version[] } }).spec.versions[0]!,
);

test("status.conditions is a map list keyed by type, whose key is required", (t) => {
  for (const version of versions) {
    const conditions = version.schema.openAPIV3Schema.properties.status.properties.conditions;
    t.is(conditions["x-kubernetes-list-type"], "map");
    t.deepEqual(conditions["x-kubernetes-list-map-keys"], ["type"]);
    t.true((conditions.items as { required: string[] }).required.includes("type"));
  }
});

test("kubectl get shows the Ready condition's status and reason; -o wide the edge version", (t) => {
  for (const version of versions) {
    const columns = version.additionalPrinterColumns;
    t.deepEqual(
      columns.filter((c) => !c.priority).map((c) => c.name),
      ["Ready", "Reason", "Replicas", "Endpoint", "Age"],
    );
    t.is(columns.find((c) => c.name === "Reason")?.jsonPath, '.status.conditions[?(@.type=="Ready")].reason');
    t.like(
      columns.find((c) => c.name === "Version"),
      { jsonPath: ".status.edgeVersion", priority: 1 },
    );
  }
});
