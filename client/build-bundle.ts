// Builds the ONE browser bundle of the client SDK: client/index.ts → edge/public/client.js (ESM),
// which the edge serves at /client.js. The file is generated, never edited, and committed, so the
// demo page needs no build step; `npm run build:client` regenerates it and a test fails when the
// committed file is stale.
// platform "browser" makes esbuild refuse any Node built-in, so a Node-only import anywhere in the
// browser entry's graph fails the build instead of shipping a broken bundle.
import { build } from "esbuild";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
export const BUNDLE_PATH = `${root}edge/public/client.js`;

/** Code that must never reach a browser: Node modules, CommonJS, and TypeBox's code generator (CSP). */
const FORBIDDEN_IN_BUNDLE: readonly RegExp[] = [
  /\brequire\(/,
  /from\s*["']node:/,
  /from\s*["']ws["']/,
  /new Function\(/,
  /TypeCompiler/,
];

/** The bundle's text, checked for code a browser must not get. */
export async function renderClientBundle(): Promise<string> {
  const result = await build({
    entryPoints: [`${root}client/index.ts`],
    outfile: BUNDLE_PATH,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    minify: true,
    legalComments: "none",
    logLevel: "silent",
    write: false,
  });
  const text = result.outputFiles[0]!.text;
  const found = FORBIDDEN_IN_BUNDLE.filter((pattern) => pattern.test(text));
  if (found.length > 0)
    throw new Error(`client bundle contains code a browser must not get: ${found.join(", ")}`);
  return text;
}

export async function buildClientBundle(outfile = BUNDLE_PATH): Promise<string> {
  const text = await renderClientBundle();
  await mkdir(dirname(outfile), { recursive: true });
  await writeFile(outfile, text);
  return text;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const text = await buildClientBundle();
    console.log(`client bundle: ${BUNDLE_PATH} (${Math.round(text.length / 1024)} KiB)`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
