// `npm run build [-- OUTDIR]`: compiles the production code (tsconfig.build.json, test code and
// test support excluded) to JavaScript in OUTDIR (default dist/), and copies the edge's static
// files (edge/public: the demo page and the committed SDK bundle) next to the compiled edge, so
// that OUTDIR is everything the images run (the Dockerfile's edge and operator targets): no tsx at run time.
import { execFileSync } from "node:child_process";
import { cpSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const outDir = resolve(root, process.argv[2] ?? "dist");
rmSync(outDir, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", outDir], {
  stdio: "inherit",
});
cpSync(join(root, "edge/public"), join(outDir, "edge/public"), { recursive: true });
console.log(`built ${outDir}`);
