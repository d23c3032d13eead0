// `npm run build` (tsc -p tsconfig.build.json) compiles production code only: no test, no test
// support (e2e/, e2e/harness/), no script lands in dist/, also not through an import.
import test from "ava";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

test("the build compiles protocol/, shared/, edge/, client/ and operator/ without their tests", (t) => {
  const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
  const listed = execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--listFilesOnly"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  const ours = listed
    .split("\n")
    .map((file) => path.relative(ROOT, file.trim()))
    .filter((file) => file !== "" && !file.startsWith("..") && !file.startsWith("node_modules/"));
  const foreign = ours.filter(
    (file) =>
      !/^(protocol|shared|edge|client|operator)\//.test(file) ||
      /\.test\.ts$/.test(file) ||
      /(^|\/)test(-support)?(\/|\.ts$)/.test(file),
  );
  t.deepEqual(foreign, []);
  t.true(ours.includes("edge/server.ts"), "the edge is built");
  t.true(ours.includes("shared/config.ts"), "shared/ is built");
});
