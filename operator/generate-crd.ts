// Writes the generated CRD into crds/ and the Helm chart, and the field reference into
// docs/operator.md. Run: node --import tsx operator/generate-crd.ts
// (generated-files.test.ts fails when any of them is stale).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CRD_FILES, DOCS_FILE, renderCrdYaml } from "./crd-files.js";
import { withFieldReference } from "./field-reference.js";

const yaml = renderCrdYaml();
for (const file of CRD_FILES) {
  writeFileSync(fileURLToPath(file), yaml);
  console.log(`wrote ${fileURLToPath(file)}`);
}
writeFileSync(DOCS_FILE, withFieldReference(readFileSync(DOCS_FILE, "utf8")));
console.log(`updated the field reference in ${fileURLToPath(DOCS_FILE)}`);
