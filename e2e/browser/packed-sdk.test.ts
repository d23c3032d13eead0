// The SDK as a user gets it: the tarball `npm pack` makes of client/, installed with
// `npm install <tarball>` (offline: it has no dependencies) into a fresh project in a temporary
// folder that cannot see this repository, then used as that project would use it — from Node as an
// ES module and as CommonJS, type-checked by tsc as both, and from a page in real Chromium (an
// import map points the bare specifier at the installed file). Each of the three subscribes, has
// its token refreshed (tokens of 8 s from the project's own token endpoint), publishes with a msgId
// (a repeat is `dup`), and keeps every message once, in order, across an edge SIGKILL and restart
// on the same port (JetStream keeps the log).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { PACKAGE_DIR } from "../../client/build-bundle.js";
import { launchChromium } from "../harness/chromium.js";
import { restartableEdge, type EdgeProcess } from "../harness/edge-process.js";
import { publishUntilStored, range } from "../harness/http.js";
import { signToken, TEST_API_KEY } from "../harness/tokens.js";
import { waitFor } from "../harness/wait.js";
import { packedProject } from "./packed-project.js";

const APP_ORIGIN = "http://app.herald.test";
let project: string;

test.before(async () => {
  project = await packedProject();
});

test.after.always(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

/** What every consumer does: the same lines of code, as an ES module, as CommonJS, and in a page. */
const SCENARIO = `
  const client = new HeraldClient({
    url: config.edge,
    token: async () => (await fetch(config.tokenUrl)).text(),
    backoff: { initialMs: 100, maxMs: 1000 },
  });
  client.on("state", (state, change) => report({ state, code: change.code }));
  const subscription = client.subscribe(config.topic, (message) => report({ n: message.data.n, seq: message.seq, prev: message.prev }));
  subscription.on("subscribed", ({ wasRecovering, recovered }) => report({ subscribed: { wasRecovering, recovered } }));
  subscription.ready().then(async () => {
    const first = await client.publish(config.topic, { n: 0 }, { msgId: config.topic + "-0" });
    const again = await client.publish(config.topic, { n: 0 }, { msgId: config.topic + "-0" });
    report({ published: [first.dup, again.dup, first.seq === again.seq] });
  });
`;

const ESM = `import { HeraldClient } from "@herald/client";
const config = JSON.parse(process.env.HERALD_TEST);
const report = (value) => console.log(JSON.stringify(value));
${SCENARIO}`;

const CJS = `const { HeraldClient } = require("@herald/client");
const config = JSON.parse(process.env.HERALD_TEST);
const report = (value) => console.log(JSON.stringify(value));
${SCENARIO}`;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8">
<script type="importmap">{"imports":{"@herald/client":"/node_modules/@herald/client/dist/esm/herald.js"}}</script>
</head><body>
<script type="module">
  import { HeraldClient } from "@herald/client";
  const config = JSON.parse(new URLSearchParams(location.search).get("config"));
  window.reports = [];
  const report = (value) => window.reports.push(value);
  ${SCENARIO}
</script>
</body></html>`;

/** Type-checks a consumer of the installed package with the repository's TypeScript, as ESM and as CommonJS. */
test("the installed package type-checks as an ES module and as CommonJS", (t) => {
  const code = (importLine: string) => `${importLine}
const client: HeraldClient = new HeraldClient({ url: "https://herald.example", token: async () => "t", transports: ["websocket", "sse"] });
client.on("state", (state: ClientState, change: StateChange) => console.log(state, change.code, change.reason));
const sub = client.subscribe<{ n: number }>("a.b", { from: { last: 5 } }, (message: HeraldMessage<{ n: number }>) => message.data.n + message.seq);
sub.on("subscribed", ({ recovered, wasRecovering, position }) => console.log(recovered, wasRecovering, position.epoch));
void client.ready();
void client.publish("a.b", { n: 1 }, { msgId: "m" }).then((result: PublishResult) => result.dup);
// @ts-expect-error a message handler is required
client.subscribe("a.c");
`;
  const types = "HeraldClient, type ClientState, type StateChange, type HeraldMessage, type PublishResult";
  writeFileSync(join(project, "consumer.mts"), code(`import { ${types} } from "@herald/client";`));
  writeFileSync(join(project, "consumer.cts"), code(`import { ${types} } from "@herald/client";`));
  const tsc = join(PACKAGE_DIR, "..", "node_modules", "typescript", "bin", "tsc");
  // The project has no @types of its own: the package's declarations must stand alone.
  const args = ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext"];
  const result = spawnSync(
    process.execPath,
    [tsc, ...args, "--target", "es2022", "--lib", "es2022,dom", "consumer.mts", "consumer.cts"],
    { cwd: project, encoding: "utf8" },
  );
  t.is(result.status, 0, `${result.stdout}${result.stderr}`);
});

interface Setup {
  edge: () => EdgeProcess;
  restart: () => Promise<void>;
  tokenUrl: string;
  issued: () => number;
}

async function setup(t: ExecutionContext): Promise<Setup> {
  const edges = await restartableEdge(t, { HERALD_DRAIN_SECONDS: "0" });
  // The application's backend: it mints short-lived Herald tokens (here for a page on any origin).
  let issued = 0;
  const tokens = createServer((_request, response) => {
    issued++;
    void signToken({ expiresIn: 8, subscribe: ["packed.>"], publish: ["packed.>"] }).then((token) =>
      response
        .writeHead(200, { "content-type": "text/plain", "access-control-allow-origin": "*" })
        .end(token),
    );
  });
  await new Promise<void>((resolve) => tokens.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => tokens.close(() => resolve())));
  const address = tokens.address();
  return {
    edge: edges.edge,
    restart: async () => {
      edges.edge().kill("SIGKILL");
      await edges.edge().exited;
      await edges.respawn();
    },
    tokenUrl: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/token`,
    issued: () => issued,
  };
}

type Report = {
  n?: number;
  seq?: number;
  prev?: number;
  published?: boolean[];
  state?: string;
  code?: number;
  subscribed?: { wasRecovering: boolean; recovered: boolean };
};

/** Publishes 1..total to `topic` over HTTP, restarting the edge a third of the way, and checks what the consumer reported. */
async function exercise(
  t: ExecutionContext,
  s: Setup,
  topic: string,
  reports: () => Promise<Report[]>,
): Promise<void> {
  await waitFor("the consumer's own publishes", async () => (await reports()).some((r) => r.published));
  const total = 40;
  for (const n of range(total)) {
    if (n === Math.floor(total / 3)) await s.restart();
    await publishUntilStored(
      () => s.edge().url,
      { topic, data: { n }, msgId: `${topic}-${n}` },
      TEST_API_KEY,
    );
  }
  const issuedBefore = s.issued();
  // Long enough for a refresh of the 8 s token on the open connection.
  await waitFor("a token refresh", () => s.issued() > issuedBefore, 30_000);
  await waitFor(
    `${total + 1} messages`,
    async () => (await reports()).filter((r) => r.n !== undefined).length >= total + 1,
    90_000,
  );
  const all = await reports();
  const messages = all.filter((r) => r.n !== undefined);
  t.deepEqual(
    messages.map((r) => r.n),
    range(total + 1, 0),
  );
  for (let i = 1; i < messages.length; i++) t.is(messages[i]!.prev, messages[i - 1]!.seq);
  t.deepEqual(
    all.find((r) => r.published)?.published,
    [false, true, true],
    "the repeated msgId was a duplicate",
  );
  t.true(
    all.some((r) => r.state === "reconnecting"),
    "the edge restart was a reconnect",
  );
  // The token was refreshed on the open connection before its exp: the edge never closed with 4001.
  t.deepEqual(
    all.filter((r) => r.code === 4001),
    [],
    "no connection ended because its token expired",
  );
  // First subscribed live; after the restart, resumed from its position with nothing missed.
  const subscribed = all.filter((r) => r.subscribed).map((r) => r.subscribed);
  t.deepEqual(subscribed[0], { wasRecovering: false, recovered: false });
  t.true(subscribed.length >= 2, "subscribed again after the restart");
  for (const again of subscribed.slice(1)) t.deepEqual(again, { wasRecovering: true, recovered: true });
  // Open again at the end (a moment of `reconnecting` may still be going on as the last message lands).
  await waitFor(
    "open at the end",
    async () => (await reports()).filter((r) => r.state).at(-1)?.state === "open",
  );
  // Still every message once at the end: no late duplicate came meanwhile.
  t.deepEqual(
    (await reports()).filter((r) => r.n !== undefined).map((r) => r.n),
    range(total + 1, 0),
  );
}

function startConsumer(
  t: ExecutionContext,
  file: string,
  config: object,
): { reports: Report[]; child: ChildProcess } {
  const child = spawn(process.execPath, [file], {
    cwd: project,
    env: { PATH: process.env.PATH ?? "", HERALD_TEST: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.teardown(() => {
    child.kill("SIGKILL");
  });
  const reports: Report[] = [];
  let buffer = "";
  let errors = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split("\n");
    buffer = lines.pop()!;
    for (const line of lines) if (line.trim()) reports.push(JSON.parse(line) as Report);
  });
  child.stderr!.on("data", (chunk: Buffer) => (errors += chunk.toString()));
  child.on("exit", (code) => {
    if (code !== null && code !== 0) t.log(`consumer exited with ${code}: ${errors}`);
  });
  return { reports, child };
}

for (const [kind, file, source] of [
  ["an ES module", "consumer.mjs", ESM],
  ["CommonJS", "consumer.cjs", CJS],
] as const) {
  test(`Node, ${kind}: subscribe, publish with msgId, token refresh, resume after an edge restart`, async (t) => {
    writeFileSync(join(project, file), source);
    const s = await setup(t);
    const topic = `packed.node-${file.replace(".", "-")}`;
    const { reports } = startConsumer(t, join(project, file), {
      edge: s.edge().url,
      tokenUrl: s.tokenUrl,
      topic,
    });
    await exercise(t, s, topic, async () => reports);
  });
}

test("a page in Chromium: the same, with the installed package's ES module", async (t) => {
  const s = await setup(t);
  const topic = "packed.browser";
  const context = await launchChromium(t);
  await context.route(`${APP_ORIGIN}/**`, (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path.startsWith("/node_modules/")) {
      return route.fulfill({
        status: 200,
        contentType: "text/javascript; charset=utf-8",
        body: readFileSync(join(project, path)),
      });
    }
    return route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: PAGE });
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  const config = { edge: s.edge().url, tokenUrl: s.tokenUrl, topic };
  await page.goto(`${APP_ORIGIN}/?config=${encodeURIComponent(JSON.stringify(config))}`);
  await exercise(t, s, topic, async () =>
    page.evaluate(() => (window as unknown as { reports: Report[] }).reports),
  );
  t.deepEqual(errors, []);
});
