// Writes the generated CRD into crds/ and the Helm chart. Run: node --import tsx operator/generate-crd.ts
// (generated-files.test.ts fails when either file is stale).
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderCrdYaml, CRD_FILES } from "./crd-files.js";

const yaml = renderCrdYaml();
for (const file of CRD_FILES) {
  writeFileSync(fileURLToPath(file), yaml);
  console.log(`wrote ${fileURLToPath(file)}`);
}
