// A fresh application project in a temporary folder outside the repository, with the SDK installed
// from the tarball `npm pack` makes of client/ (`npm install <tarball>`, offline: the package has no
// dependencies), as a user would have it. Shared by the tests of the packed SDK and of the guide.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildPackage, PACKAGE_DIR } from "../../client/build-bundle.js";

export function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: "utf8" });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(" ")} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** Builds and packs the SDK, and installs the tarball into a new project; returns the project's folder. */
export async function packedProject(): Promise<string> {
  // The package is built into a copy of client/'s package files, so that tests running at the same
  // time never see another one's half-written client/dist.
  const packDir = mkdtempSync(join(tmpdir(), "herald-pack-"));
  try {
    for (const file of ["package.json", "README.md"])
      copyFileSync(join(PACKAGE_DIR, file), join(packDir, file));
    await buildPackage(packDir);
    // The build above is the package's prepack; --ignore-scripts does not build a second time.
    const output = run(
      "npm",
      ["pack", "--ignore-scripts", "--silent", "--pack-destination", packDir],
      packDir,
    );
    const tarball = join(packDir, output.trim().split("\n").at(-1)!);
    const project = mkdtempSync(join(tmpdir(), "herald-app-"));
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "an-app", version: "1.0.0", private: true }),
    );
    run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], project);
    return project;
  } finally {
    rmSync(packDir, { recursive: true, force: true });
  }
}
