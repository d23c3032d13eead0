// The browser bundle: one ESM module with the SDK's API, within its size budget, and nothing a
// browser cannot run (no Node module, no code generation, no schema library); the committed
// edge/public/client.js is that very bundle.
import test from "ava";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";
import {
  BUNDLE_PATH,
  buildClientBundle,
  buildPackage,
  MAX_BUNDLE_GZIP_BYTES,
  renderClientBundle,
} from "./build-bundle.js";

test("the bundle is one ESM module exporting the SDK, free of Node modules, code generation and TypeBox", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "herald-bundle-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "client.js");
  const text = await buildClientBundle(file);
  for (const forbidden of [
    "require(",
    "node:",
    "new Function(",
    "TypeCompiler",
    'from"ws"',
    "sinclair",
    "TypeBox",
  ])
    t.false(text.includes(forbidden), forbidden);

  const bundle = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  t.deepEqual(Object.keys(bundle).sort(), [
    "HeraldClient",
    "HeraldError",
    "Subscription",
    "memoryPositions",
    "webStoragePositions",
  ]);
  // Without a global WebSocket (Node before 22) the bundle says what to do instead of failing later.
  const HeraldClient = bundle.HeraldClient as new (options: { url: string }) => unknown;
  const global = globalThis as { WebSocket?: unknown };
  const saved = global.WebSocket;
  delete global.WebSocket;
  try {
    t.throws(() => new HeraldClient({ url: "ws://127.0.0.1:1" }), {
      message: /no global WebSocket here \(Node before 22\): pass \{ WebSocket \} from the `ws` package/,
    });
  } finally {
    if (saved !== undefined) global.WebSocket = saved;
  }
});

test(`the bundle is at most ${MAX_BUNDLE_GZIP_BYTES} bytes gzip`, async (t) => {
  const text = await renderClientBundle();
  const gzip = gzipSync(text).length;
  t.log(`${text.length} bytes minified, ${gzip} bytes gzip`);
  t.true(gzip <= MAX_BUNDLE_GZIP_BYTES, `${gzip} bytes gzip`);
});

test("the committed bundle edge/public/client.js is up to date with client/", async (t) => {
  const committed = readFileSync(BUNDLE_PATH, "utf8");
  t.true(
    committed === (await renderClientBundle()),
    "edge/public/client.js is stale: run `npm run build:client` and commit it",
  );
});

test("the package's ES module is the very bundle the edge serves at /client.js; its CommonJS build has the same exports", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "herald-package-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await buildPackage(dir);
  t.true(readFileSync(join(dir, "dist/esm/herald.js"), "utf8") === readFileSync(BUNDLE_PATH, "utf8"));
  const cjs = createRequire(import.meta.url)(join(dir, "dist/cjs/herald.js")) as Record<string, unknown>;
  const esm = (await import(pathToFileURL(join(dir, "dist/esm/herald.js")).href)) as Record<string, unknown>;
  t.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).sort());
  t.is(typeof cjs.HeraldClient, "function");
});
