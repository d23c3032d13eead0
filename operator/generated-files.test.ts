import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import test from "ava";
import { CRD_FILES, DOCS_FILE, renderCrdYaml } from "./crd-files.js";
import { withFieldReference } from "./field-reference.js";

const HOW = "run: node --import tsx operator/generate-crd.ts";

test(`the generated CRD files are up to date (${HOW})`, (t) => {
  const expected = renderCrdYaml();
  for (const file of CRD_FILES) t.is(readFileSync(file, "utf8"), expected, `${fileURLToPath(file)} is stale`);
});

test(`the field reference in docs/operator.md is up to date (${HOW})`, (t) => {
  const document = readFileSync(DOCS_FILE, "utf8");
  t.is(document, withFieldReference(document), "docs/operator.md is stale");
});
