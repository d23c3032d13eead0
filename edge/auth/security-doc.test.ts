// docs/security.md must not drift from the code: every limit variable with its real default, every
// authentication variable, and every close code are documented.
import test from "ava";
import { readFile } from "node:fs/promises";
import { CloseCode } from "../../protocol/codes.js";
import { EDGE_VARIABLES } from "../../shared/config.js";

const doc = await readFile(new URL("../../docs/security.md", import.meta.url), "utf8");

/** Variables that are not limits or security settings: where to listen and which stream to use. */
const NOT_SECURITY = new Set([
  "port",
  "metricsPort",
  "host",
  "natsUrl",
  "stream",
  "subjectPrefix",
  "streamReplicas",
  "streamStorage",
  "logLevel",
  "notificationService",
]);

test("every limit is documented with its default", (t) => {
  for (const [key, spec] of Object.entries(EDGE_VARIABLES)) {
    if (NOT_SECURITY.has(key) || spec.kind !== "integer") continue;
    t.true(doc.includes(`| \`${spec.env}\` | ${spec.default}`), `${spec.env} with default ${spec.default}`);
  }
});

test("every authentication and access variable is documented", (t) => {
  for (const [key, spec] of Object.entries(EDGE_VARIABLES)) {
    if (NOT_SECURITY.has(key) || spec.kind === "integer") continue;
    t.true(doc.includes(`\`${spec.env}\``), spec.env);
  }
});

test("every close code is documented", (t) => {
  for (const code of Object.values(CloseCode)) t.true(doc.includes(`| ${code} |`), String(code));
});
