// `npm run lint` refuses what it promises to refuse: an unformatted file (prettier --check) and an
// import across a forbidden boundary (ESLint's import-x/no-restricted-paths with the arrows of
// eslint.config.js, docs/design.md#import-arrows). Fixtures are linted in memory under a path inside
// the repository, with the repository's own configuration, so the verdicts are the ones `npm run
// lint` gives a file at that path.
import test from "ava";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import * as prettier from "prettier";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const eslint = new ESLint({ cwd: ROOT });

/** The rule ids and messages ESLint reports for `code` as if it were the file at `path`. */
async function lint(path: string, code: string): Promise<{ rule: string | null; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${path}` });
  return result!.messages.map((m) => ({ rule: m.ruleId, message: m.message }));
}

test("npm run lint runs prettier --check and eslint over the whole tree", (t) => {
  const { scripts } = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as {
    scripts: Record<string, string>;
  };
  t.regex(scripts.lint!, /prettier --check \.(\s|$)/);
  t.regex(scripts.lint!, /eslint \.(\s|$)/);
});

test("an unformatted file fails prettier --check; the same code formatted passes", async (t) => {
  const options = {
    ...(await prettier.resolveConfig(`${ROOT}edge/fixture.ts`)),
    filepath: `${ROOT}edge/fixture.ts`,
  };
  t.false(await prettier.check("export const  limits = {frames:1,  bytes : 2}\n", options));
  t.true(
    await prettier.check(
      await prettier.format("export const  limits = {frames:1,  bytes : 2}\n", options),
      options,
    ),
  );
});

const FORBIDDEN = [
  {
    what: "the backend importing the hub",
    path: "edge/backend/fixture.ts",
    code: 'import { Hub } from "../hub/hub.js";\nexport const hub = Hub;\n',
    message:
      'Unexpected path "../hub/hub.js" imported in restricted zone. edge/backend may import only edge/common, shared, protocol, npm packages (docs/design.md#import-arrows).',
  },
  {
    what: "the operator reaching into the edge",
    path: "operator/fixture.ts",
    code: 'import { startEdge } from "../edge/server.js";\nexport const start = startEdge;\n',
    message:
      'Unexpected path "../edge/server.js" imported in restricted zone. operator may import only shared, protocol, npm packages (docs/design.md#import-arrows).',
  },
  {
    what: "ws/ importing session/",
    path: "edge/ws/fixture.ts",
    code: 'import { Session } from "../session/session.js";\nexport const session = Session;\n',
    message:
      'Unexpected path "../session/session.js" imported in restricted zone. edge/ws may import only edge/http, edge/requests, edge/auth, edge/common, shared, protocol, npm packages (docs/design.md#import-arrows).',
  },
  {
    what: "a shared leaf importing the composition root",
    path: "edge/common/fixture.ts",
    code: 'import { startEdge } from "../server.js";\nexport const start = startEdge;\n',
    message:
      'Unexpected path "../server.js" imported in restricted zone. edge/common may import only shared, protocol, npm packages (docs/design.md#import-arrows).',
  },
  {
    what: "production code importing a test",
    path: "edge/hub/fixture.ts",
    code: 'import "./hub.test.js";\n',
    message:
      'Unexpected path "./hub.test.js" imported in restricted zone. production code never imports test support (docs/design.md#import-arrows).',
  },
];

for (const { what, path, code, message } of FORBIDDEN) {
  test(`an import across a forbidden boundary fails the lint: ${what}`, async (t) => {
    t.deepEqual(await lint(path, code), [{ rule: "import-x/no-restricted-paths", message }]);
  });
}

test("an import that does not resolve fails the lint (it would pass the arrows unchecked)", async (t) => {
  t.deepEqual(await lint("edge/backend/fixture.ts", 'import "./no-such-module.js";\n'), [
    { rule: "import-x/no-unresolved", message: "Unable to resolve path to module './no-such-module.js'." },
  ]);
});

test("allowed arrows pass: the backend importing edge/common, a test importing the test kit", async (t) => {
  t.deepEqual(
    await lint(
      "edge/backend/fixture.ts",
      'import { EdgeMetrics } from "../common/metrics.js";\nexport const metrics = EdgeMetrics;\n',
    ),
    [],
  );
  t.deepEqual(
    await lint(
      "edge/backend/fixture.test.ts",
      'import { waitFor } from "../../e2e/harness/wait.js";\nexport const wait = waitFor;\n',
    ),
    [],
  );
});

test("docs/design.md#import-arrows lists exactly the arrows the lint enforces", async (t) => {
  const config = (await eslint.calculateConfigForFile(`${ROOT}edge/server.ts`)) as {
    rules: Record<
      string,
      [unknown, { zones: { target: string; from: string | string[]; except?: string[] }[] }]
    >;
  };
  const zones = config.rules["import-x/no-restricted-paths"]![1].zones;
  const enforced = new Map<string, string[]>();
  for (const zone of zones) {
    if (zone.from !== ".") continue;
    const folder = zone.target.replace(/^\.\//, "");
    // Each folder may import itself; the composition root's "edge" is every edge folder, listed.
    const allowed = (zone.except ?? [])
      .map((f) => f.replace(/^\.\//, ""))
      .filter((f) => f !== folder && f !== "node_modules");
    enforced.set(folder, allowed);
  }
  const design = readFileSync(`${ROOT}docs/design.md`, "utf8");
  const section = design.slice(
    design.indexOf("## Import arrows"),
    design.indexOf("## The path of one message"),
  );
  const documented = new Map<string, string[]>();
  for (const row of section.matchAll(/^\| `([^`]+)`[^|]* \| (.+) \|$/gm)) {
    const folder = row[1]!.replace(/\/$/, "");
    const cell = row[2]!;
    const allowed = cell.startsWith("every `edge/` folder")
      ? ["edge", ...[...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).filter((f) => f !== "edge/")]
      : [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    documented.set(
      folder,
      allowed.map((f) => f.replace(/\/$/, "")),
    );
  }
  const sorted = (map: Map<string, string[]>) =>
    Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, [...v].sort()]));
  t.deepEqual(sorted(documented), sorted(enforced));
});

test("every folder of edge code has its arrows (a folder the table does not list would go unchecked)", async (t) => {
  const config = (await eslint.calculateConfigForFile(`${ROOT}edge/server.ts`)) as {
    rules: Record<string, [unknown, { zones: { target: string }[] }]>;
  };
  const listed = new Set(config.rules["import-x/no-restricted-paths"]![1].zones.map((z) => z.target));
  const folders = readdirSync(`${ROOT}edge`, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .filter((entry) =>
      readdirSync(`${ROOT}edge/${entry.name}`, { recursive: true }).some(
        (file) => String(file).endsWith(".ts") && !String(file).endsWith(".test.ts"),
      ),
    )
    .map((entry) => `./edge/${entry.name}`);
  t.deepEqual(
    folders.filter((folder) => !listed.has(folder)),
    [],
  );
  for (const folder of ["./protocol", "./shared", "./client", "./operator", "./edge/*.ts"])
    t.true(listed.has(folder), folder);
});
