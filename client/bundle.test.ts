// The browser bundle: one ESM file with the SDK's API and nothing a browser cannot run.
import test from "ava";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { BUNDLE_PATH, buildClientBundle, renderClientBundle } from "./build-bundle.js";

test("the bundle is one ESM module exporting the SDK, free of Node modules and code generation", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "herald-bundle-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "client.js");
  const text = await buildClientBundle(file);
  for (const forbidden of ["require(", "node:", "new Function(", "TypeCompiler", 'from"ws"'])
    t.false(text.includes(forbidden), forbidden);

  const bundle = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  t.deepEqual(Object.keys(bundle).sort(), [
    "HeraldClient",
    "HeraldError",
    "Subscription",
    "memoryPositions",
    "webStoragePositions",
  ]);
  // Without a global WebSocket (Node 20) the browser build says what to do instead of failing later.
  const HeraldClient = bundle.HeraldClient as new (options: { url: string }) => unknown;
  const global = globalThis as { WebSocket?: unknown };
  const saved = global.WebSocket;
  delete global.WebSocket;
  try {
    t.throws(() => new HeraldClient({ url: "ws://127.0.0.1:1" }), {
      message: /no global WebSocket here; in Node import the client from client\/node\.ts/,
    });
  } finally {
    if (saved !== undefined) global.WebSocket = saved;
  }
});

test("the committed bundle edge/public/client.js is up to date with client/", async (t) => {
  const committed = readFileSync(BUNDLE_PATH, "utf8");
  t.true(
    committed === (await renderClientBundle()),
    "edge/public/client.js is stale: run `npm run build:client` and commit it",
  );
});
