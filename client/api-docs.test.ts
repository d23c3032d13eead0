// The API reference (docs/api.md) and the API table of docs/client.md are generated from the SDK's
// types: up to date, covering every export of the package, and every public member documented.
import test from "ava";
import { readFileSync } from "node:fs";
import { API_PATH, GUIDE_PATH, renderApiReference, renderApiTable, renderGuide } from "./build/api-docs.js";
import * as sdk from "./index.js";

test("docs/api.md and the API table of docs/client.md are up to date with the types", (t) => {
  t.true(
    readFileSync(API_PATH, "utf8") === renderApiReference(),
    "docs/api.md is stale: run `npm run build:client`",
  );
  const guide = readFileSync(GUIDE_PATH, "utf8");
  t.true(
    guide === renderGuide(guide),
    "the API table of docs/client.md is stale: run `npm run build:client`",
  );
});

test("the reference covers every runtime export, and every call and event of the table has a description", (t) => {
  const reference = renderApiReference();
  for (const name of Object.keys(sdk)) t.true(reference.includes(`## ${name}\n`), name);
  const rows = renderApiTable().split("\n").slice(2);
  t.true(rows.length > 20);
  for (const row of rows) t.notRegex(row, /\|\s*\|$/, `undocumented: ${row}`);
});

test("every type the reference's signatures name has its own section (or is JavaScript's own)", (t) => {
  const reference = renderApiReference();
  const sections = new Set([...reference.matchAll(/^## (\w+)$/gm)].map((match) => match[1]!));
  const code = [...reference.matchAll(/<code>(.*?)<\/code>|```ts\n([\s\S]*?)\n```/g)].map((match) =>
    (match[1] ?? match[2]!).replace(/&lt;/g, "<").replace(/"[^"]*"/g, '""'),
  );
  // Capitalised names that are not property names (`WebSocket?: …`).
  const named = new Set(
    code.flatMap((text) => [...text.matchAll(/\b([A-Z]\w*)\b(?!\??:)/g)].map((m) => m[1]!)),
  );
  const javascript = new Set(["Error", "Iterable", "Map", "Partial", "Promise"]);
  const typeParameters = new Set(["Args", "K", "T"]);
  t.deepEqual(
    [...named].filter((name) => !sections.has(name) && !javascript.has(name) && !typeParameters.has(name)),
    [],
  );
});

test("every section and every member of the reference has a description", (t) => {
  const reference = renderApiReference();
  for (const [, name, kind] of reference.matchAll(/^## (\w+)\n\n(\*\w+\*.*)$/gm))
    t.regex(kind!, /^\*\w+\* — \S/, `${name} has no description`);
  for (const row of reference.split("\n").filter((line) => line.startsWith("| <code>")))
    t.notRegex(row, /\|\s*\|$/, `undocumented: ${row}`);
});
