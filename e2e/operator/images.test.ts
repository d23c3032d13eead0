// The images run compiled JavaScript: `npm run build` (what both Dockerfiles run) produces every
// entrypoint they and the chart's hook name, no test code lands in it, the Dockerfiles are
// multi-stage on Node 24 and run as a non-root uid, and the compiled edge and operator start with
// plain node (no tsx), as they do in their images.
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
const DOCKERFILES = ["edge/Dockerfile", "operator/Dockerfile"];

test.before(async () => {
  await run("npm", ["run", "--silent", "build", "--", OUT], { cwd: ROOT, timeout: 300_000 });
});
test.after.always(() => rmSync(OUT, { recursive: true, force: true }));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/** The final stage of a Dockerfile: its FROM, USER and CMD/ENTRYPOINT (exec form). */
function finalStage(path: string) {
  const lines = readFileSync(join(ROOT, path), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  const froms = lines.filter((line) => /^FROM /i.test(line));
  const stage = lines.slice(lines.lastIndexOf(froms[froms.length - 1]!));
  const last = (instruction: string) =>
    stage.filter((line) => line.toUpperCase().startsWith(`${instruction} `)).pop();
  const command = JSON.parse(
    (last("ENTRYPOINT") ?? last("CMD") ?? "CMD []").replace(/^\S+\s+/, ""),
  ) as string[];
  return { froms, user: last("USER")?.split(/\s+/)[1], command, text: stage.join("\n") };
}

test("both Dockerfiles: multi-stage on Node 24, non-root, plain node on compiled JavaScript that the build produces", (t) => {
  const buildScript = (
    JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { build: string } }
  ).scripts.build;
  for (const path of DOCKERFILES) {
    t.true(
      readFileSync(join(ROOT, path), "utf8").includes(`RUN ${buildScript} `),
      `${path} runs npm run build's command`,
    );
    const { froms, user, command, text } = finalStage(path);
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

test("the release workflow builds and pushes both images, from these Dockerfiles, on a version tag", (t) => {
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
  for (const image of job.strategy.matrix.image) t.true(existsSync(join(ROOT, image, "Dockerfile")));
  const build = job.steps.find((step) => step.uses?.startsWith("docker/build-push-action"))!;
  t.is(build.with?.file, "${{ matrix.image }}/Dockerfile");
  t.is(build.with?.push, true);
  t.is(build.with?.context, ".");
});
