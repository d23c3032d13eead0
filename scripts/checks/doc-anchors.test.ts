// Every pointer into the documentation resolves: each `docs/<file>.md#<anchor>` that a source file,
// a script or a document names, and each relative Markdown link with an anchor, points at a file
// that exists and a heading it has (GitHub's anchors). And nothing points at a design document
// outside the repository: docs/design.md is the one design.
import test from "ava";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" });

/** Tracked and new (not ignored) text files, without dependencies and generated bundles. */
const FILES = git("ls-files", "-co", "--exclude-standard")
  .split("\n")
  .filter((f) => /\.(ts|js|mjs|sh|md|ya?ml)$/.test(f))
  .filter((f) => !f.startsWith("node_modules/") && !/(^|\/)dist\//.test(f) && f !== "edge/public/client.js")
  .filter((f) => existsSync(path.join(ROOT, f)));

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors of a Markdown text's headings (outside code fences), repeats numbered as GitHub does. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

interface Pointer {
  readonly from: string;
  /** The document, relative to the repository root. */
  readonly doc: string;
  readonly anchor: string;
}

function pointersIn(file: string, text: string): Pointer[] {
  const pointers: Pointer[] = [];
  // `docs/<name>.md#<anchor>` in any file (comments, scripts, documents).
  for (const m of text.matchAll(/(?<![\w/.-])docs\/([\w./-]+\.md)#([\w-]+)/g)) {
    pointers.push({ from: file, doc: `docs/${m[1]}`, anchor: m[2]! });
  }
  if (file.endsWith(".md")) {
    // Markdown links with an anchor: (other.md#anchor), (../x/y.md#anchor), (#anchor).
    for (const m of text.matchAll(/\]\(([^)\s#]*)#([^)\s]+)\)/g)) {
      const target = m[1] === "" ? file : path.normalize(path.join(path.dirname(file), m[1]!));
      if (!target.endsWith(".md") || /^[a-z]+:/.test(m[1]!)) continue;
      pointers.push({ from: file, doc: target, anchor: m[2]! });
    }
  }
  return pointers;
}

test("every docs/…#anchor and Markdown link anchor names an existing heading", (t) => {
  const anchors = new Map<string, Set<string> | undefined>();
  const anchorsFor = (doc: string) => {
    if (!anchors.has(doc)) {
      const file = path.join(ROOT, doc);
      anchors.set(doc, existsSync(file) ? anchorsOf(readFileSync(file, "utf8")) : undefined);
    }
    return anchors.get(doc);
  };
  const broken: string[] = [];
  let checked = 0;
  for (const file of FILES) {
    for (const pointer of pointersIn(file, readFileSync(path.join(ROOT, file), "utf8"))) {
      checked++;
      const known = anchorsFor(pointer.doc);
      if (known === undefined) broken.push(`${pointer.from}: ${pointer.doc} does not exist`);
      else if (!known.has(pointer.anchor)) broken.push(`${pointer.from}: ${pointer.doc}#${pointer.anchor}`);
    }
  }
  t.deepEqual(broken, []);
  // The check itself must have found the pointers the code makes (docs/design.md is full of them).
  t.true(checked >= 20, `only ${checked} pointers found`);
});

test("anchors are GitHub's: punctuation dropped, repeats numbered", (t) => {
  t.is(slug("Why Herald-Prev"), "why-herald-prev");
  t.is(slug("Why only nats-server 2.9.10 features"), "why-only-nats-server-2910-features");
  t.is(slug("`edge/ws/`, `edge/sse/`"), "edgews-edgesse");
  t.deepEqual([...anchorsOf("# A\n## B\n```\n# not a heading\n```\n## B\n")], ["a", "b", "b-1"]);
});

/** `git grep` over the index (what a clean checkout holds, not the working tree): the matching lines. */
function grepIndex(...args: string[]): string {
  try {
    return git("grep", "--cached", "-n", "-I", ...args);
  } catch (error) {
    // git grep exits 1 when it finds nothing.
    if ((error as { status?: number }).status !== 1) throw error;
    return "";
  }
}

test("no file points at a design document outside the repository", (t) => {
  t.is(grepIndex("DESIGN\\.md"), "");
});

test("code says what it covers, not which issue asked for it (issue numbers live outside the repository)", (t) => {
  t.is(
    grepIndex(
      "-i",
      "-E",
      "\\bissue [0-9]+",
      "--",
      "*.ts",
      "*.js",
      "*.mjs",
      "*.sh",
      ":!node_modules",
      ":!edge/public/client.js",
    ),
    "",
  );
});
