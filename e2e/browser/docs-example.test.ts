// docs/client.md "From install to a working page", followed as written: its server.mjs and
// index.html are taken from the page itself, put into a fresh project with the packed SDK installed
// from its tarball (and jose, which the guide installs), and run — the backend minting tokens and
// publishing with an API key, the page in Chromium — against a real edge configured as the guide
// says. The only change: the page's edge URL is the test edge's (the guide uses localhost:8080).
import { spawn } from "node:child_process";
import { readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { launchChromium } from "../harness/chromium.js";
import { spawnEdge } from "../harness/edge-process.js";
import { freePort } from "../harness/free-port.js";
import { waitFor } from "../harness/wait.js";
import { packedProject } from "./packed-project.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const GUIDE = readFileSync(join(REPO, "docs/client.md"), "utf8");
const SECRET = "change-me-to-32-or-more-random-chars";
const API_KEY = "backend-key-change-me";

/** The fenced block of the guide whose info string names `file` (```js server.mjs). */
function block(file: string): string {
  const match = new RegExp("```\\w+ " + file.replace(".", "\\.") + "\\n([\\s\\S]*?)\\n```").exec(GUIDE);
  if (!match) throw new Error(`docs/client.md has no block for ${file}`);
  return match[1]!;
}

let project: string;
test.before(async () => {
  project = await packedProject();
});
test.after.always(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

test("the guide's backend and page work as written: tokens, publishing with an API key, live messages, a reload", async (t) => {
  // The guide's edge: `HERALD_JWT_SECRET=… HERALD_API_KEYS=… HERALD_ALLOW_ANONYMOUS=false npm start`.
  t.regex(GUIDE, new RegExp(`HERALD_JWT_SECRET=${SECRET} HERALD_API_KEYS=${API_KEY}`));
  const edge = await spawnEdge(t, {
    HERALD_JWT_SECRET: SECRET,
    HERALD_API_KEYS: API_KEY,
    HERALD_ALLOW_ANONYMOUS: "false",
  });
  writeFileSync(join(project, "server.mjs"), block("server.mjs"));
  const page = block("index.html");
  t.true(page.includes('"http://localhost:8080"'));
  writeFileSync(
    join(project, "index.html"),
    page.replace('"http://localhost:8080"', JSON.stringify(edge.url)),
  );
  // `npm install jose`, from the repository's copy (the test runs offline; jose has no dependencies).
  symlinkSync(join(REPO, "node_modules", "jose"), join(project, "node_modules", "jose"), "dir");

  const port = await freePort();
  const server = spawn(process.execPath, ["server.mjs"], {
    cwd: project,
    env: {
      PATH: process.env.PATH ?? "",
      HERALD_JWT_SECRET: SECRET,
      HERALD_API_KEY: API_KEY,
      HERALD_EDGE: edge.url,
      PORT: String(port),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  server.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  t.teardown(() => {
    server.kill("SIGKILL");
  });
  const app = `http://127.0.0.1:${port}`;
  await waitFor("the guide's server", async () => (await fetch(app).catch(() => undefined))?.ok);

  const context = await launchChromium(t);
  const browser = await context.newPage();
  const errors: string[] = [];
  browser.on("pageerror", (error) => errors.push(error.message));
  await browser.goto(app);
  await waitFor("connected", async () => (await browser.textContent("#state")) === "open");
  const scores = () => browser.$$eval("#scores li", (items) => items.map((item) => item.textContent));
  for (let goal = 1; goal <= 3; goal++) {
    await browser.click("#goal");
    await waitFor(`goal ${goal} shown`, async () => (await scores()).length === goal);
  }
  t.deepEqual(await scores(), ["1 : 0", "2 : 0", "3 : 0"]);

  // A reload resumes after the last goal shown (localStorage): nothing again, the next one once.
  await browser.reload();
  await waitFor("connected again", async () => (await browser.textContent("#state")) === "open");
  await browser.click("#goal");
  await waitFor("goal 4 shown", async () => (await scores()).length >= 1);
  t.deepEqual(await scores(), ["4 : 0"]);
  t.deepEqual(errors, [], output);
});
