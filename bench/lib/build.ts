// Benchmarks measure the edge the images run: the compiled JavaScript of `npm run build`, started
// with plain node. Built once per benchmark process, into bench/results/build/ (git-ignored; inside
// the repository so that the compiled edge finds node_modules).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const OUT = fileURLToPath(new URL("../results/build/", import.meta.url));

let built = false;

/** The build output directory, for spawnEdge's `built` option. */
export function builtEdge(): string {
  if (!built) {
    execFileSync(process.execPath, [`${ROOT}scripts/build.mjs`, OUT], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    built = true;
  }
  return OUT;
}
