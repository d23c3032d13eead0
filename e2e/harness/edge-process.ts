// A real edge process (`node --import tsx edge/main.ts`, or the compiled edge of `npm run build` as
// the images run it) on a free port of 127.0.0.1, with HERALD_* overrides. It is always killed by its
// pid when the test ends, whatever happened.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.js";
import { startNats, type Teardown } from "./nats-server.js";
import { TEST_EDGE_ENV } from "./tokens.js";
import { waitFor } from "./wait.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const READY_TIMEOUT_MS = 60_000;

export interface EdgeProcess {
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly wsUrl: string;
  /** The internal port (HERALD_METRICS_PORT): /metrics and /v1/admin/stats. */
  readonly metricsPort: number;
  /** http://127.0.0.1:<metricsPort> */
  readonly metricsUrl: string;
  /** Resolves with the exit code (null when ended by a signal). */
  readonly exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
  /** What the process wrote so far. */
  stdout(): string;
  stderr(): string;
}

export interface SpawnOptions {
  /** Wait for GET /readyz to answer 200 (default true). */
  readonly waitReady?: boolean;
  /** Extra node flags, e.g. --expose-gc. */
  readonly nodeArgs?: string[];
  /** Extra modules loaded before the edge (--import), e.g. test probes. */
  readonly imports?: string[];
  /**
   * Run the compiled edge in this `npm run build` output directory with plain node, as the images
   * do, instead of the sources through tsx (whose keepNames gives every closure a property store:
   * about 5 KB more heap per connection).
   */
  readonly built?: string;
}

export async function spawnEdge(
  t: Teardown,
  env: Record<string, string> = {},
  options: SpawnOptions = {},
): Promise<EdgeProcess> {
  const port = env.HERALD_PORT ? Number(env.HERALD_PORT) : await freePort();
  const metricsPort = env.HERALD_METRICS_PORT ? Number(env.HERALD_METRICS_PORT) : await freePort();
  // Start from a clean HERALD_* slate so the developer's shell cannot change what a test means.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("HERALD_")),
  );
  const args = [
    ...(options.nodeArgs ?? []),
    ...(options.built === undefined ? ["--import", "tsx"] : []),
    ...(options.imports ?? []).flatMap((m) => ["--import", m]),
    options.built === undefined ? "edge/main.ts" : join(options.built, "edge/main.js"),
  ];
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env: {
      ...inherited,
      HERALD_HOST: "127.0.0.1",
      HERALD_LOG_LEVEL: "warn",
      ...env,
      HERALD_PORT: String(port),
      HERALD_METRICS_PORT: String(metricsPort),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      exitCode = code;
      resolve(code);
    });
  });
  const pid = child.pid!;
  t.teardown(async () => {
    if (exitCode !== undefined) return;
    process.kill(pid, "SIGKILL");
    await exited;
  });

  const url = `http://127.0.0.1:${port}`;
  const edge: EdgeProcess = {
    pid,
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    metricsPort,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    exited,
    kill: (signal = "SIGTERM") => {
      if (exitCode === undefined) process.kill(pid, signal);
    },
    stdout: () => out,
    stderr: () => err,
  };
  if (options.waitReady === false) return edge;

  await waitFor(
    () => `the edge to be ready:\n${err}${out}`,
    async () => {
      if (exitCode !== undefined)
        throw new Error(`edge exited with ${exitCode} before it was ready:\n${err}${out}`);
      try {
        return (await fetch(`${url}/readyz`)).status === 200;
      } catch {
        return false; // not listening yet
      }
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100 },
  );
  return edge;
}

/** An edge process on a fixed port over its own nats-server with JetStream; see `restartableEdge`. */
export interface RestartableEdge {
  /** The port every edge process of it listens on. */
  readonly port: number;
  /** The edge process running now (the last one spawned). */
  edge(): EdgeProcess;
  /** Spawns the next edge process with the same env, on the same port (stop the last one first). */
  respawn(): Promise<EdgeProcess>;
}

/**
 * A fresh nats-server with JetStream and an edge process over it on a fixed free port, with
 * TEST_EDGE_ENV and `env`: the log survives the edge, so a test can kill or drain it and spawn the
 * next one where clients reconnect.
 */
export async function restartableEdge(
  t: Teardown,
  env: Record<string, string> = {},
): Promise<RestartableEdge> {
  const nats = await startNats(t, { jetstream: true });
  const port = await freePort();
  const edgeEnv = { ...TEST_EDGE_ENV, HERALD_NATS_URL: nats.url, HERALD_PORT: String(port), ...env };
  let edge = await spawnEdge(t, edgeEnv);
  return {
    port,
    edge: () => edge,
    respawn: async () => {
      edge = await spawnEdge(t, edgeEnv);
      return edge;
    },
  };
}
