// The images run compiled JavaScript: `npm run build` (what the Dockerfile's build stage runs)
// produces every entrypoint its targets and the chart's hook name, no test code lands in it, both
// targets are multi-stage on Node 24 and run as a non-root uid, and the compiled edge and operator
// start with plain node (no tsx), as they do in their images.
import { execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import test from "ava";
import { parse } from "yaml";
import { ROOT, tool, waitFor } from "./harness.js";
import { startFakeApiServer } from "../fake-apiserver/server.js";
import { writeKubeconfig } from "../fake-apiserver/kubeconfig.js";

const run = promisify(execFile);
// Inside the repository, so that the compiled code resolves node_modules as it does in /app.
const OUT = join(ROOT, ".tools", `build-test-${process.pid}`);
const DOCKERFILE = "Dockerfile";
/** The images, each a final stage of the Dockerfile (`docker build --target <image>`). */
const TARGETS = ["edge", "operator"];

test.before(async () => {
  await run("npm", ["run", "--silent", "build", "--", OUT], { cwd: ROOT, timeout: 300_000 });
});
test.after.always(() => rmSync(OUT, { recursive: true, force: true }));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/** The Dockerfile's stages: each FROM (its base: an image or an earlier stage) and its lines. */
function stages(path: string) {
  const lines = readFileSync(join(ROOT, path), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  const result: { from: string; base: string; name?: string; lines: string[] }[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) result.push({ from: line, base: from[1]!, name: from[2], lines: [] });
    result[result.length - 1]?.lines.push(line);
  }
  return result;
}

/**
 * One target of the Dockerfile: the FROM lines of the whole file (every stage's base resolved to
 * its image), and the USER and CMD/ENTRYPOINT (exec form) the target runs with, through the stages
 * it is built on.
 */
function target(path: string, name: string) {
  const all = stages(path);
  const byName = (stageName: string) => all.find((stage) => stage.name === stageName);
  const chain: typeof all = [];
  for (let stage = byName(name); stage; stage = byName(stage.base)) chain.unshift(stage);
  const image = (stage: (typeof all)[number]): string => {
    const base = byName(stage.base);
    return base ? image(base) : stage.from;
  };
  const lines = chain.flatMap((stage) => stage.lines);
  const last = (instruction: string) =>
    lines.filter((line) => line.toUpperCase().startsWith(`${instruction} `)).pop();
  const command = JSON.parse(
    (last("ENTRYPOINT") ?? last("CMD") ?? "CMD []").replace(/^\S+\s+/, ""),
  ) as string[];
  return {
    found: chain.length > 0,
    froms: all.map(image),
    user: last("USER")?.split(/\s+/)[1],
    command,
    text: lines.join("\n"),
  };
}

test("both images of the Dockerfile: multi-stage on Node 24, non-root, plain node on compiled JavaScript that the build produces", (t) => {
  const buildScript = (
    JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { build: string } }
  ).scripts.build;
  t.true(
    readFileSync(join(ROOT, DOCKERFILE), "utf8").includes(`RUN ${buildScript} `),
    `${DOCKERFILE} runs npm run build's command`,
  );
  for (const name of TARGETS) {
    const path = `${DOCKERFILE} --target ${name}`;
    const { found, froms, user, command, text } = target(DOCKERFILE, name);
    t.true(found, `${path}: a stage named ${name}`);
    t.true(froms.length >= 2, `${path} is multi-stage`);
    for (const from of froms) t.regex(from, /^FROM node:24[-.\w]*/i, `${path}: ${from}`);
    t.regex(
      user ?? "",
      /^[1-9]\d*(:\d+)?$/,
      `${path} runs as a numeric non-root uid (runAsNonRoot can check it)`,
    );
    t.is(command[0], "node", `${path} runs node`);
    t.false(
      command.some((arg) => arg.includes("tsx")),
      `${path} does not run tsx`,
    );
    t.false(/COPY[^\n]*\.ts\b/.test(text), `${path}: no TypeScript in the final image`);
    const script = command.find((arg) => arg.endsWith(".js"))!;
    t.truthy(script, `${path} names a script`);
    t.true(script.startsWith("dist/"), `${path}'s script is in the build output`);
    t.true(existsSync(join(OUT, relative("dist", script))), `${script} exists in the npm run build output`);
  }
  // The chart's pre-delete hook runs the operator image with this script.
  const hook = readFileSync(join(ROOT, "charts/herald/templates/uninstall-hook.yaml"), "utf8");
  const hookScript = /- (dist\/operator\/\S+\.js)/.exec(hook)?.[1];
  t.truthy(hookScript);
  t.true(existsSync(join(OUT, relative("dist", hookScript!))), `${hookScript} exists in the build output`);
});

test("no test code or test support in the build output; the edge's static files are in it", (t) => {
  const built = files(OUT).map((file) => relative(OUT, file));
  const testFiles = built.filter((file) => /\.test\.|test-support|(^|\/)test\/|\.test-kit\./.test(file));
  t.deepEqual(testFiles, []);
  t.false(built.some((file) => file.startsWith("e2e/") || file.startsWith("bench/")));
  t.true(built.includes("edge/public/index.html"), "the demo page");
  t.true(built.includes("edge/public/client.js"), "the SDK bundle");
});

async function started(command: string[], env: Record<string, string>, ready: RegExp): Promise<string> {
  const child = spawn(process.execPath, command, {
    cwd: ROOT,
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("HERALD_"))),
      // No tsx loader may sneak in through the environment.
      NODE_OPTIONS: "",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  try {
    await waitFor(`${command.join(" ")} to start`, () => {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${output}`);
      return ready.test(output);
    });
    return output;
  } finally {
    child.kill("SIGKILL");
  }
}

test("the compiled edge and operator start with plain node", async (t) => {
  const edge = await started(
    [join(OUT, "edge/main.js")],
    { HERALD_PORT: "0", HERALD_METRICS_PORT: "0", HERALD_HOST: "127.0.0.1" },
    /edge_started/,
  );
  t.regex(edge, /edge_started/);
  const api = await startFakeApiServer();
  t.teardown(() => api.stop());
  const kubeconfig = writeKubeconfig(join(OUT, "kubeconfig"), api.url);
  t.truthy(tool("kubectl"));
  const operator = await started(
    [join(OUT, "operator/main.js")],
    { KUBECONFIG: kubeconfig, HERALD_OPERATOR_PORT: "0", POD_NAME: "compiled" },
    /listening on/,
  );
  t.regex(operator, /herald-operator compiled listening/);
});

test("the release workflow builds and pushes both images, from the Dockerfile's targets, on a version tag", (t) => {
  const workflow = parse(readFileSync(join(ROOT, ".github/workflows/release.yml"), "utf8")) as {
    on: { push: { tags: string[] } };
    jobs: {
      images: {
        strategy: { matrix: { image: string[] } };
        steps: { uses?: string; with?: Record<string, unknown> }[];
      };
    };
  };
  t.deepEqual(workflow.on.push.tags, ["v*.*.*"]);
  const job = workflow.jobs.images;
  t.deepEqual(job.strategy.matrix.image.sort(), ["edge", "operator"]);
  for (const image of job.strategy.matrix.image) t.true(target(DOCKERFILE, image).found, image);
  const build = job.steps.find((step) => step.uses?.startsWith("docker/build-push-action"))!;
  t.is(build.with?.file, DOCKERFILE);
  t.is(build.with?.target, "${{ matrix.image }}");
  t.is(build.with?.push, true);
  t.is(build.with?.context, ".");
});
