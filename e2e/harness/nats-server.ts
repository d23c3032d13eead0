// Real nats-server processes for tests: one node, or a 3-node JetStream cluster on loopback. Each
// server gets free 127.0.0.1 ports and its own temporary store directory; every process is killed
// by its pid when the test ends (t.teardown, also on failure) and, as a last resort, when the test
// worker exits.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort } from "./free-port.js";
import { waitFor } from "./wait.js";

/** The part of ava's ExecutionContext the harness needs. */
export interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

const READY_TIMEOUT_MS = 30_000;

let binary: string | undefined;

/**
 * The nats-server binary: found on the PATH, else (when running as root on Debian/Ubuntu)
 * installed from the Debian package, else an error that says how to get it.
 */
export function natsServerBinary(): string {
  binary ??= findOnPath() ?? installDebianPackage();
  if (!binary) {
    throw new Error(
      "nats-server not found: run `bash scripts/test-tools.sh` as root, or `apt-get install -y nats-server`",
    );
  }
  return binary;
}

function findOnPath(): string | undefined {
  const found = spawnSync("sh", ["-c", "command -v nats-server"], { encoding: "utf8" });
  const path = found.stdout.trim();
  return found.status === 0 && path !== "" ? path : undefined;
}

function installDebianPackage(): string | undefined {
  if (process.getuid?.() !== 0 || spawnSync("sh", ["-c", "command -v apt-get"]).status !== 0)
    return undefined;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    spawnSync("apt-get", ["install", "-y", "-qq", "nats-server"], { env, stdio: "ignore" }).status === 0;
  if (!install()) {
    spawnSync("apt-get", ["update", "-qq"], { env, stdio: "ignore" });
    install();
  }
  return findOnPath();
}

// Last resort for a worker that dies before teardown runs: no server outlives its test process.
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface NatsNode {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The current process's pid (changes on restart). */
  readonly pid: number;
  /** Stops the process (default SIGTERM; SIGKILL for a crash) and waits until it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports with the same store, and waits until it accepts clients. */
  restart(): Promise<void>;
}

interface NodeSpec {
  name: string;
  port: number;
  dir: string;
  storeDir: string;
  config: string;
}

class NatsProcess implements NatsNode {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = "";

  constructor(private readonly spec: NodeSpec) {
    writeFileSync(join(spec.dir, `${spec.name}.conf`), spec.config);
  }

  get name() {
    return this.spec.name;
  }
  get port() {
    return this.spec.port;
  }
  get url() {
    return `nats://127.0.0.1:${this.spec.port}`;
  }
  get storeDir() {
    return this.spec.storeDir;
  }
  get pid() {
    return this.child?.pid ?? 0;
  }

  launch(): void {
    if (this.child) throw new Error(`nats-server ${this.name} is already running`);
    const child = spawn(natsServerBinary(), ["-c", join(this.spec.dir, `${this.spec.name}.conf`)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.output = "";
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    running.add(child);
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once("exit", () => {
        running.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      }),
    );
  }

  /** Waits until a client can connect (and, for JetStream, the account API answers). */
  async waitReady(jetstream: boolean): Promise<void> {
    let last = "";
    await waitFor(
      () => `nats-server ${this.name} to be ready (${last}):\n${this.output}`,
      async () => {
        if (!this.child) throw new Error(`nats-server ${this.name} exited while starting:\n${this.output}`);
        try {
          const nc = await connect({ servers: this.url, reconnect: false, timeout: 1000 });
          try {
            if (jetstream) await (await jetstreamManager(nc, { timeout: 1000 })).getAccountInfo();
            return true;
          } finally {
            await nc.close();
          }
        } catch (err) {
          last = String(err);
          return false;
        }
      },
      { timeoutMs: READY_TIMEOUT_MS, intervalMs: 100 },
    );
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const forced = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(forced);
  }

  async restart(): Promise<void> {
    await this.stop();
    this.launch();
    await this.waitReady(this.spec.config.includes("jetstream"));
  }
}

export type NatsServer = NatsNode;

/**
 * One nats-server on a free loopback port (or the given one: a test that started an edge before
 * NATS), with JetStream (file store in a temp dir) unless told otherwise.
 */
export async function startNats(
  t: Teardown,
  opts: { jetstream?: boolean; port?: number } = {},
): Promise<NatsServer> {
  const jetstream = opts.jetstream ?? true;
  const dir = mkdtempSync(join(tmpdir(), "herald-nats-"));
  const port = opts.port ?? (await freePort());
  const storeDir = join(dir, "store");
  const config = [
    `server_name: n1`,
    `listen: 127.0.0.1:${port}`,
    jetstream ? `jetstream { store_dir: ${JSON.stringify(storeDir)} }` : "",
  ].join("\n");
  const node = new NatsProcess({ name: "n1", port, dir, storeDir, config });
  t.teardown(async () => {
    await node.stop("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  node.launch();
  await node.waitReady(jetstream);
  return node;
}

export interface NatsCluster {
  /** Client URLs of every node. */
  readonly urls: string[];
  readonly nodes: NatsNode[];
  /** The node that currently leads the stream's RAFT group. */
  leaderOf(stream: string): Promise<NatsNode>;
  stop(): Promise<void>;
}

/** A JetStream cluster of `size` nodes on loopback (one cluster name, full-mesh routes, a store per node). */
export async function startNatsCluster(t: Teardown, size = 3): Promise<NatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), "herald-nats-cluster-"));
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
  const nodes = ports.map((port, i) => {
    const name = `n${i + 1}`;
    const storeDir = join(dir, name);
    const config = [
      `server_name: ${name}`,
      `listen: 127.0.0.1:${port}`,
      `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
      `cluster {`,
      `  name: herald-test`,
      `  listen: 127.0.0.1:${routePorts[i]}`,
      `  routes: [${routes
        .filter((_, j) => j !== i)
        .map((r) => JSON.stringify(r))
        .join(", ")}]`,
      `}`,
    ].join("\n");
    return new NatsProcess({ name, port, dir, storeDir, config });
  });
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
  };
  t.teardown(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const node of nodes) node.launch();
  // Each node answers the JetStream account API only once the cluster has a meta leader.
  await Promise.all(nodes.map((n) => n.waitReady(true)));
  const urls = nodes.map((n) => n.url);
  return {
    urls,
    nodes,
    stop,
    async leaderOf(stream) {
      let last = "";
      return waitFor(
        () => `stream ${stream} to have a leader: ${last}`,
        async () => {
          const live = nodes.filter((n) => n.pid !== 0).map((n) => n.url);
          try {
            const nc = await connect({ servers: live, reconnect: false, timeout: 1000 });
            try {
              const info = await (await jetstreamManager(nc, { timeout: 2000 })).streams.info(stream);
              const leader = nodes.find((n) => n.name === info.cluster?.leader);
              if (leader) return leader;
              last = `no leader yet (${JSON.stringify(info.cluster)})`;
            } finally {
              await nc.close();
            }
          } catch (err) {
            last = String(err);
          }
          return undefined;
        },
        { timeoutMs: READY_TIMEOUT_MS, intervalMs: 200 },
      );
    },
  };
}
