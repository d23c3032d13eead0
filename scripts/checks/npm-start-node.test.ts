// `npm start` runs the edge on Node 24 LTS whatever Node the machine has: npm puts
// node_modules/.bin first on the PATH, where the `node` package (package.json) installs Node 24.
// The edge's first log line (edge_started) says which Node serves.
import test from "ava";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor } from "../../e2e/harness/wait.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

test("npm start serves on Node 24 and says so in edge_started", async (t) => {
  // Its own process group, so npm, its shell and the edge are all stopped by one signal.
  const child = spawn("npm", ["start", "--silent"], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HERALD_PORT: "0", HERALD_METRICS_PORT: "0", HERALD_HOST: "127.0.0.1" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid!, "SIGKILL");
      await exited;
    }
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const started = await waitFor(
    "edge_started on npm start's stdout",
    () => {
      if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}: ${stderr}`);
      const line = stdout.split("\n").find((l) => l.includes('"edge_started"'));
      return line === undefined ? undefined : (JSON.parse(line) as { node?: string; backend?: string });
    },
    60_000,
  );
  t.regex(started.node ?? "", /^v24\./);
  t.is(started.backend, "embedded");
});
