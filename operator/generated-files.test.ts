import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import test from "ava";
import { CRD_FILES, renderCrdYaml } from "./crd-files.js";

test("the generated CRD files are up to date (run: node --import tsx operator/generate-crd.ts)", (t) => {
  const expected = renderCrdYaml();
  for (const file of CRD_FILES) t.is(readFileSync(file, "utf8"), expected, `${fileURLToPath(file)} is stale`);
});
