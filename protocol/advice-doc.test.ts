// docs/protocol.md states what each close code and error code asks of a client; CLOSE_ADVICE and
// ERROR_ADVICE (protocol/codes.ts) are the one definition, and the page must say the same.
import test from "ava";
import { readFileSync } from "node:fs";
import { CLOSE_ADVICE, ERROR_ADVICE, ERROR_CODES } from "./codes.js";

const doc = readFileSync(new URL("../docs/protocol.md", import.meta.url), "utf8");
const words = { resume: "resume", backoff: "backoff", new_token: "new token" } as const;

test("the close code table gives every code's advice", (t) => {
  for (const [code, advice] of Object.entries(CLOSE_ADVICE)) {
    const row = doc.split("\n").find((line) => line.startsWith(`| ${code} |`));
    t.truthy(row, `no row for ${code}`);
    t.true(row!.trimEnd().endsWith(`| ${words[advice]} |`), `${code}: ${advice}`);
  }
});

test("the error advice paragraph lists every code under its advice", (t) => {
  const paragraph = doc.slice(
    doc.indexOf("What an error asks of a client"),
    doc.indexOf("every other code."),
  );
  const named = { retry: "**retry**", unsub_first: "**unsub\nfirst**", new_token: "**new token**" } as const;
  for (const code of ERROR_CODES) {
    const advice = ERROR_ADVICE[code];
    if (advice === "fail") {
      t.false(paragraph.includes(`\`${code}\``), `${code} is "fail": not listed`);
      continue;
    }
    const section = paragraph.slice(paragraph.indexOf(named[advice]));
    const end = section.indexOf(";");
    t.true(section.slice(0, end).includes(`\`${code}\``), `${code}: ${advice}`);
  }
});
