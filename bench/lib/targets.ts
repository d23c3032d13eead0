// The servers under test, each started fresh on loopback for one scenario and stopped (by pid)
// after it, and the way the open-loop publisher sends them a message. Subscribers of every target
// are opened by the same load processes (bench/load/), with the same payloads.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import type { ExecutionContext } from "ava";
import WebSocket from "ws";
import { io as ioClient } from "socket.io-client";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { spawnEdge } from "../../e2e/harness/edge-process.js";
import { builtEdge } from "./build.js";
import { HEAP_PROBE, heapOf } from "../../e2e/harness/heap.js";
import { freePort } from "../../e2e/harness/free-port.js";
import { natsServerBinary, startNats } from "../../e2e/harness/nats-server.js";
import type { Cleanup } from "../cleanup.js";
import type { Kind } from "../load/protocols.js";
import { kill, spawnTracked } from "./children.js";

export type TargetName = "ws" | "socketio" | "nats" | "herald-embedded" | "herald-jetstream";
export const ALL_TARGETS: TargetName[] = ["ws", "socketio", "nats", "herald-embedded", "herald-jetstream"];

export interface Target {
  readonly name: TargetName;
  readonly kind: Kind;
  /** Where subscribers connect (the protocol adds its path and query). */
  readonly url: string;
  /** The processes whose CPU and memory are the server's (nats-server too, for JetStream). */
  readonly serverPids: number[];
  /** Sends one message without waiting for it (`body` is the payload's JSON text). */
  publish(topic: string, body: string): void;
  /** Publishes refused or failed so far. */
  errors(): number;
  /** Node servers: JS heap plus array buffers in bytes, after a full garbage collection. */
  heap?(): Promise<number>;
}

export interface TargetOptions {
  /** Write a V8 CPU profile of the Herald edge (--cpu-prof) into this directory. */
  readonly profileDir?: string;
}

const open = (url: string, protocols: string[] = []) =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });

/**
 * Starts a peer server script (with the same heap probe as the Herald edge: SIGUSR2 collects
 * garbage and prints the heap) and waits for its "listening <port>" line.
 */
async function startScript(
  cleanup: Cleanup,
  script: string,
): Promise<{ child: ChildProcess; port: number; heap: () => Promise<number> }> {
  const probe = [...HEAP_PROBE.nodeArgs!, ...HEAP_PROBE.imports!.flatMap((m) => ["--import", m])];
  const child = spawnTracked(process.execPath, [...probe, "--import", "tsx", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  cleanup.teardown(() => kill(child));
  let out = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", () => {
      const match = /listening (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  const heap = () =>
    new Promise<number>((resolve) => {
      const seen = out.length;
      const onData = () => {
        const line = out
          .slice(seen)
          .split("\n")
          .find((l) => l.includes('"heap_probe"'));
        if (!line) return;
        child.stdout!.off("data", onData);
        const { heapUsed, arrayBuffers } = JSON.parse(line) as { heapUsed: number; arrayBuffers: number };
        resolve(heapUsed + arrayBuffers);
      };
      child.stdout!.on("data", onData);
      process.kill(child.pid!, "SIGUSR2");
    });
  return { child, port, heap };
}

async function wsTarget(cleanup: Cleanup): Promise<Target> {
  const { child, port, heap } = await startScript(cleanup, "bench/peers/ws-broadcast.ts");
  const publisher = await open(`ws://127.0.0.1:${port}/pub`);
  cleanup.teardown(() => publisher.terminate());
  return {
    name: "ws",
    kind: "ws",
    url: `ws://127.0.0.1:${port}`,
    serverPids: [child.pid!],
    publish: (topic, body) => publisher.send(`${topic}\n${body}`),
    errors: () => 0,
    heap,
  };
}

async function socketioTarget(cleanup: Cleanup): Promise<Target> {
  const { child, port, heap } = await startScript(cleanup, "bench/peers/socketio-server.ts");
  const publisher = ioClient(`http://127.0.0.1:${port}`, { transports: ["websocket"], reconnection: false });
  cleanup.teardown(() => void publisher.close());
  await new Promise<void>((resolve, reject) => {
    publisher.once("connect", resolve);
    publisher.once("connect_error", reject);
  });
  return {
    name: "socketio",
    kind: "socketio",
    url: `ws://127.0.0.1:${port}`,
    serverPids: [child.pid!],
    publish: (topic, body) => publisher.emit("pub", topic, JSON.parse(body)),
    errors: () => 0,
    heap,
  };
}

/** nats-server with its WebSocket listener (no TLS, loopback only); publishing over its TCP port. */
async function natsTarget(cleanup: Cleanup): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), "herald-bench-nats-"));
  const [port, wsPort] = [await freePort(), await freePort()];
  const config = join(dir, "nats.conf");
  writeFileSync(
    config,
    [
      `listen: 127.0.0.1:${port}`,
      `websocket { listen: "127.0.0.1:${wsPort}", no_tls: true, compression: false }`,
      `max_connections: 100000`,
    ].join("\n"),
  );
  const child = spawnTracked(natsServerBinary(), ["-c", config], { stdio: "ignore" });
  cleanup.teardown(async () => {
    await kill(child);
    rmSync(dir, { recursive: true, force: true });
  });
  let nc: NatsConnection | undefined;
  for (let tries = 0; !nc; tries++) {
    try {
      nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false });
    } catch (error) {
      if (tries > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const connection = nc;
  cleanup.teardown(() => connection.close());
  const encoder = new TextEncoder();
  return {
    name: "nats",
    kind: "nats",
    url: `ws://127.0.0.1:${wsPort}`,
    serverPids: [child.pid!],
    publish: (topic, body) => connection.publish(topic, encoder.encode(body)),
    errors: () => 0,
  };
}

/** Subscribers anonymous (read-only), publishing allowed anonymously too; limits out of the way. */
export const HERALD_BENCH_ENV: Record<string, string> = {
  HERALD_MAX_CONNECTIONS: "19500",
  HERALD_MAX_PENDING_UPGRADES: "5000",
  HERALD_ALLOW_ANONYMOUS: "true",
  HERALD_ANONYMOUS_PUBLISH: "true",
  HERALD_PUBLISHES_PER_SECOND: "1000000",
  HERALD_FRAMES_PER_SECOND: "1000000",
  HERALD_DRAIN_SECONDS: "0",
  // Retention out of the way: the publish run reads every stored message back.
  HERALD_MAX_MSGS_PER_TOPIC: "1000000",
  HERALD_LOG_LEVEL: "warn",
};

export interface HeraldEdge {
  readonly url: string;
  readonly wsUrl: string;
  readonly pids: number[];
  readonly natsUrl?: string;
  heap(): Promise<number>;
}

export async function startHerald(
  cleanup: Cleanup,
  jetstream: boolean,
  options: TargetOptions = {},
): Promise<HeraldEdge> {
  const env = { ...HERALD_BENCH_ENV };
  const pids: number[] = [];
  let natsUrl: string | undefined;
  if (jetstream) {
    const nats = await startNats(cleanup);
    env.HERALD_NATS_URL = natsUrl = nats.url;
    pids.push(nats.pid);
  }
  const profile = options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`] : [];
  // spawnEdge only calls t.teardown: the benchmark's Cleanup stands in for a test context.
  const edge = await spawnEdge(cleanup as unknown as ExecutionContext, env, {
    nodeArgs: ["--max-old-space-size=4096", ...HEAP_PROBE.nodeArgs!, ...profile],
    imports: HEAP_PROBE.imports!,
    built: builtEdge(),
  });
  if (options.profileDir) {
    // A CPU profile is written when the process exits by itself: stop it with SIGTERM (drain 0 s)
    // before the SIGKILL of spawnEdge's own cleanup.
    cleanup.teardown(async () => {
      edge.kill("SIGTERM");
      await Promise.race([edge.exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    });
  }
  pids.unshift(edge.pid);
  const heap = async () => {
    const { heapUsed, arrayBuffers } = await heapOf(edge);
    return heapUsed + arrayBuffers;
  };
  return { url: edge.url, wsUrl: edge.wsUrl, pids, heap, ...(natsUrl ? { natsUrl } : {}) };
}

/** Publishing over `pub` frames on a few sockets of one edge, without waiting for the acks. */
export async function heraldPublisher(
  cleanup: Cleanup,
  wsUrl: string,
): Promise<Pick<Target, "publish" | "errors">> {
  // Several publisher sockets, so that one socket is not what limits the many-topics run.
  const publishers = await Promise.all(Array.from({ length: 4 }, () => open(wsUrl, ["herald.v1"])));
  cleanup.teardown(() => publishers.forEach((ws) => ws.terminate()));
  let refused = 0;
  for (const ws of publishers) {
    ws.on("message", (data: Buffer) => {
      const text = data.toString();
      if (!text.includes('"op":"err"')) return;
      refused += text.split('"op":"err"').length - 1;
    });
  }
  let next = 0;
  // One socket per topic (by hash): the edge stores one socket's publishes of a topic in order.
  const socketOf = (topic: string) => {
    let hash = 0;
    for (let i = 0; i < topic.length; i++) hash = (hash * 31 + topic.charCodeAt(i)) | 0;
    return publishers[Math.abs(hash) % publishers.length]!;
  };
  return {
    publish: (topic, body) => {
      const id = next++;
      socketOf(topic).send(`{"op":"pub","topic":${JSON.stringify(topic)},"data":${body},"id":"${id}"}`);
    },
    errors: () => refused,
  };
}

async function heraldTarget(cleanup: Cleanup, jetstream: boolean, options: TargetOptions): Promise<Target> {
  const edge = await startHerald(cleanup, jetstream, options);
  return {
    name: jetstream ? "herald-jetstream" : "herald-embedded",
    kind: "herald",
    url: edge.wsUrl,
    serverPids: edge.pids,
    heap: edge.heap,
    ...(await heraldPublisher(cleanup, edge.wsUrl)),
  };
}

export function startTarget(
  cleanup: Cleanup,
  name: TargetName,
  options: TargetOptions = {},
): Promise<Target> {
  switch (name) {
    case "ws":
      return wsTarget(cleanup);
    case "socketio":
      return socketioTarget(cleanup);
    case "nats":
      return natsTarget(cleanup);
    case "herald-embedded":
      return heraldTarget(cleanup, false, options);
    case "herald-jetstream":
      return heraldTarget(cleanup, true, options);
  }
}
