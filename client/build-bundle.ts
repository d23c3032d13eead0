// Builds the SDK from client/ (`npm run build:client`), all from the same sources in one run:
// - client/wire.ts: the frame types and checks, generated from the protocol's schemas (committed);
// - the browser bundle edge/public/client.js: one minified ES module the edge serves at /client.js,
//   committed so the demo page needs no build step (a test fails when it is stale);
// - the npm package in client/dist: the same ES module (browser and Node), a CommonJS build, and
//   the type declarations; `npm pack` in client/ packs it (client/package.json);
// - the API reference docs/api.md and the API table of docs/client.md, from the types.
// platform "browser" makes esbuild refuse any Node built-in, so a Node-only import anywhere in the
// entry's graph fails the build instead of shipping a broken bundle.
import { build, type BuildOptions } from "esbuild";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { API_PATH, GUIDE_PATH, renderApiReference, renderGuide } from "./build/api-docs.js";
import { renderWire, WIRE_PATH } from "./build/wire-codegen.js";

const root = fileURLToPath(new URL("..", import.meta.url));
export const BUNDLE_PATH = `${root}edge/public/client.js`;
export const PACKAGE_DIR = `${root}client`;
const ENTRY = `${root}client/index.ts`;

/** The browser bundle's budget: gzip-compressed bytes, checked by client/bundle.test.ts. */
export const MAX_BUNDLE_GZIP_BYTES = 15 * 1024;

/** Code that must never reach a browser: Node modules, CommonJS, code generation, a schema library. */
const FORBIDDEN_IN_BUNDLE: readonly RegExp[] = [
  /\brequire\(/,
  /from\s*["']node:/,
  /from\s*["']ws["']/,
  /new Function\(/,
  /TypeCompiler/,
  /sinclair|typebox/i,
];

const common: BuildOptions & { write: false } = {
  entryPoints: [ENTRY],
  bundle: true,
  platform: "browser",
  target: "es2020",
  minify: true,
  legalComments: "none",
  logLevel: "silent",
  write: false,
};

/** Writes client/wire.ts when the protocol changed; returns whether it did. */
export async function generateWire(): Promise<boolean> {
  const text = await renderWire();
  let current: string | undefined;
  try {
    current = readFileSync(WIRE_PATH, "utf8");
  } catch {
    current = undefined;
  }
  if (current === text) return false;
  writeFileSync(WIRE_PATH, text);
  return true;
}

/** The ES module's text (the browser bundle and the package's module), checked for what a browser must not get. */
export async function renderClientBundle(): Promise<string> {
  const result = await build({ ...common, format: "esm", outfile: BUNDLE_PATH });
  const text = result.outputFiles[0]!.text;
  const found = FORBIDDEN_IN_BUNDLE.filter((pattern) => pattern.test(text));
  if (found.length > 0)
    throw new Error(`client bundle contains code a browser must not get: ${found.join(", ")}`);
  const gzip = gzipSync(text).length;
  if (gzip > MAX_BUNDLE_GZIP_BYTES)
    throw new Error(`client bundle is ${gzip} bytes gzip, over its budget of ${MAX_BUNDLE_GZIP_BYTES}`);
  return text;
}

/** Writes the browser bundle (edge/public/client.js, or `outfile`); returns its text. */
export async function buildClientBundle(outfile = BUNDLE_PATH): Promise<string> {
  const text = await renderClientBundle();
  mkdirSync(dirname(outfile), { recursive: true });
  writeFileSync(outfile, text);
  return text;
}

/**
 * Writes `packageDir`/dist (client/dist by default): esm/herald.js (the bundle's very text), cjs/herald.js (CommonJS; cjs/ has
 * its own package.json saying so) and the type declarations of each, emitted by tsc from the
 * sources. Returns the ES module's text.
 */
export async function buildPackage(packageDir = PACKAGE_DIR): Promise<string> {
  const DIST = `${packageDir}/dist`;
  rmSync(DIST, { recursive: true, force: true });
  const esm = await renderClientBundle();
  const cjs = (await build({ ...common, format: "cjs", outfile: `${DIST}/cjs/herald.js` })).outputFiles[0]!
    .text;
  mkdirSync(`${DIST}/esm`, { recursive: true });
  mkdirSync(`${DIST}/cjs`, { recursive: true });
  writeFileSync(`${DIST}/esm/herald.js`, esm);
  writeFileSync(`${DIST}/cjs/herald.js`, cjs);
  writeFileSync(`${DIST}/cjs/package.json`, `${JSON.stringify({ type: "commonjs" }, null, 2)}\n`);
  emitDeclarations(`${DIST}/esm/types`);
  // The same declarations, read as CommonJS ones under cjs/ (its package.json says "commonjs").
  cpSync(`${DIST}/esm/types`, `${DIST}/cjs/types`, { recursive: true });
  return esm;
}

function emitDeclarations(outDir: string): void {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const result = spawnSync(
    process.execPath,
    [tsc, "-p", `${PACKAGE_DIR}/tsconfig.types.json`, "--outDir", outDir],
    { cwd: root, encoding: "utf8" },
  );
  if (result.status !== 0)
    throw new Error(`tsc could not emit the SDK's declarations:\n${result.stdout}${result.stderr}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    if (await generateWire()) console.log(`client wire: ${WIRE_PATH} regenerated`);
    const text = await buildClientBundle();
    await buildPackage();
    writeFileSync(API_PATH, renderApiReference());
    writeFileSync(GUIDE_PATH, renderGuide());
    console.log(
      `client bundle: ${BUNDLE_PATH} (${Math.round(text.length / 1024)} KiB, ${gzipSync(text).length} bytes gzip); package: ${PACKAGE_DIR}/dist`,
    );
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
