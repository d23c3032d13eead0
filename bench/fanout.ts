// Fan-out at connection scale: how many subscribers one edge process holds, what each costs in
// memory, and how fast and how correctly it delivers to all of them. Loopback only, bounded.
//
//   node --import tsx bench/fanout.ts [--connections 15000] [--topics 100] [--rate 200] [--seconds 10] [--nats]
//
// One edge process (embedded backend, or JetStream R1 with --nats) and `workers` load processes
// (bench/fanout-worker.ts), each holding up to 5,000 subscriber connections: one process may hold
// at most 20,000 open files on these machines, so the edge itself stays below that too. Every
// connection subscribes to one of `topics` topics; an HTTP publisher then sends `rate` messages
// per second (one batch publish per 10 ms) for `seconds` seconds, round-robin over the topics, each carrying its send time.
// Reported: connections, edge memory per connection, deliveries/s, delivery latency p50/p99/max
// (publish call to arrival, over all deliveries), and the correctness counts (every delivery must
// continue its topic's prev chain; every expected delivery must arrive).
import { fork } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import type { ChildProcess } from "node:child_process";
import type { ExecutionContext } from "ava";
import { spawnEdge } from "../e2e/harness/edge-process.js";
import { startNats } from "../e2e/harness/nats-server.js";
import { Cleanup } from "./cleanup.js";

const { values: args } = parseArgs({
  options: {
    connections: { type: "string", default: "15000" },
    topics: { type: "string", default: "100" },
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "10" },
    nats: { type: "boolean", default: false },
  },
});
const CONNECTIONS = Number(args.connections);
const TOPIC_COUNT = Number(args.topics);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const PER_WORKER = 5_000;
if (CONNECTIONS > 19_000)
  throw new Error("one edge process may hold at most 20,000 open files: use --connections 19000 or fewer");

const TOPICS = Array.from({ length: TOPIC_COUNT }, (_, i) => `fanout.topic-${i}`);
const BUCKET_MS = 0.1;
const API_KEY = "fanout-bench-publisher-key";

type WorkerMessage =
  | { type: "ready" }
  | { type: "error"; message: string }
  | {
      type: "stats";
      delivered: number;
      chainBreaks: number;
      closedEarly: number;
      histogram: [number, number][];
    };

function processMemory(pid: number): { rssBytes: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second).
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rssBytes: rssKb * 1024, cpuSeconds: ticks / 100 };
}

function nextMessage(worker: ChildProcess, type: WorkerMessage["type"]): Promise<WorkerMessage> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`worker exited with ${code}`));
    const onMessage = (message: WorkerMessage) => {
      if (message.type === "error") reject(new Error(`worker failed: ${message.message}`));
      else if (message.type === type) {
        worker.off("message", onMessage);
        worker.off("exit", onExit);
        resolve(message);
      }
    };
    worker.on("message", onMessage);
    worker.once("exit", onExit);
  });
}

function percentile(buckets: Map<number, number>, total: number, p: number): number {
  let seen = 0;
  for (const bucket of [...buckets.keys()].sort((a, b) => a - b)) {
    seen += buckets.get(bucket)!;
    if (seen >= total * p) return (bucket + 1) * BUCKET_MS;
  }
  return Number.NaN;
}

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  try {
    // Subscribers connect anonymously (read-only); the publisher uses an API key, as a server would.
    const env: Record<string, string> = {
      HERALD_MAX_CONNECTIONS: String(CONNECTIONS + 100),
      HERALD_MAX_PENDING_UPGRADES: "5000",
      HERALD_ALLOW_ANONYMOUS: "true",
      HERALD_API_KEYS: API_KEY,
    };
    if (args.nats) env.HERALD_NATS_URL = (await startNats(cleanup)).url;
    const edge = await spawnEdge(cleanup as unknown as ExecutionContext, env, {
      nodeArgs: ["--max-old-space-size=4096"],
    });
    const idle = processMemory(edge.pid);

    const workers: ChildProcess[] = [];
    for (let offset = 0; offset < CONNECTIONS; offset += PER_WORKER) {
      const count = Math.min(PER_WORKER, CONNECTIONS - offset);
      const worker = fork(
        "bench/fanout-worker.ts",
        [JSON.stringify({ wsUrl: edge.wsUrl, count, topics: TOPICS, offset })],
        {
          execArgv: ["--import", "tsx"],
        },
      );
      cleanup.teardown(() => {
        if (worker.exitCode === null) worker.kill("SIGKILL");
      });
      workers.push(worker);
    }
    const connectStart = performance.now();
    await Promise.all(workers.map((worker) => nextMessage(worker, "ready")));
    const connectSeconds = (performance.now() - connectStart) / 1000;
    const loaded = processMemory(edge.pid);

    // Publish: `RATE` messages per second, in 10 ms ticks, one HTTP batch publish per tick.
    const total = RATE * SECONDS;
    const perTick = RATE / 100;
    let sent = 0;
    let owed = 0;
    const publishStart = performance.now();
    while (sent < total) {
      owed += perTick;
      const batch: { topic: string; data: { t: number; n: number } }[] = [];
      for (; owed >= 1 && sent < total; owed--, sent++) {
        batch.push({
          topic: TOPICS[sent % TOPICS.length]!,
          data: { t: performance.timeOrigin + performance.now(), n: sent },
        });
      }
      if (batch.length > 0) {
        const response = await fetch(`${edge.url}/v1/publish`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
          body: JSON.stringify(batch),
        });
        if (response.status !== 200)
          throw new Error(`publish answered ${response.status}: ${await response.text()}`);
      }
      const wait = publishStart + (sent / RATE) * 1000 - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const publishSeconds = (performance.now() - publishStart) / 1000;

    // Every connection of topic i gets every message of topic i: wait until all arrived (bounded).
    const expected = TOPICS.reduce((sum, _topic, i) => {
      const messages = Math.floor(total / TOPIC_COUNT) + (i < total % TOPIC_COUNT ? 1 : 0);
      const subscribers = Math.floor(CONNECTIONS / TOPIC_COUNT) + (i < CONNECTIONS % TOPIC_COUNT ? 1 : 0);
      return sum + messages * subscribers;
    }, 0);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const busy = processMemory(edge.pid);
    const stats = await Promise.all(
      workers.map((worker) => {
        const result = nextMessage(worker, "stats");
        worker.send({ type: "stop" });
        return result as Promise<Extract<WorkerMessage, { type: "stats" }>>;
      }),
    );
    const buckets = new Map<number, number>();
    let delivered = 0;
    let chainBreaks = 0;
    let closedEarly = 0;
    for (const s of stats) {
      delivered += s.delivered;
      chainBreaks += s.chainBreaks;
      closedEarly += s.closedEarly;
      for (const [bucket, count] of s.histogram) buckets.set(bucket, (buckets.get(bucket) ?? 0) + count);
    }
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version },
      backend: args.nats ? "jetstream-r1-file" : "embedded",
      connections: CONNECTIONS,
      topics: TOPIC_COUNT,
      workers: workers.length,
      connectSeconds: round(connectSeconds),
      edgeRssIdleMiB: round(idle.rssBytes / 2 ** 20),
      edgeRssLoadedMiB: round(loaded.rssBytes / 2 ** 20),
      edgeBytesPerConnection: Math.round((loaded.rssBytes - idle.rssBytes) / CONNECTIONS),
      messagesPublished: total,
      publishSeconds: round(publishSeconds),
      deliveriesExpected: expected,
      deliveriesReceived: delivered,
      deliveriesPerSecond: Math.round(delivered / publishSeconds),
      edgeCpuPercentWhilePublishing: Math.round(
        ((busy.cpuSeconds - loaded.cpuSeconds) / (publishSeconds + 2)) * 100,
      ),
      chainBreaks,
      closedEarly,
      latencyMs: {
        p50: round(percentile(buckets, delivered, 0.5)),
        p99: round(percentile(buckets, delivered, 0.99)),
        max: round(percentile(buckets, delivered, 1)),
      },
    };
    printTable(result);
    mkdirSync("bench/results", { recursive: true });
    const file = `bench/results/fanout-${result.date.replace(/[:.]/g, "-")}.json`;
    writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
    console.log(`\nwritten to ${file}`);
    if (delivered !== expected || chainBreaks > 0 || closedEarly > 0) process.exitCode = 1;
  } finally {
    await cleanup.run();
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function printTable(
  r: Record<string, unknown> & { latencyMs: { p50: number; p99: number; max: number } },
): void {
  const rows: [string, unknown][] = Object.entries(r).filter(
    ([key]) => key !== "latencyMs" && key !== "machine",
  );
  rows.push(["latency p50 / p99 / max (ms)", `${r.latencyMs.p50} / ${r.latencyMs.p99} / ${r.latencyMs.max}`]);
  const width = Math.max(...rows.map(([key]) => key.length));
  for (const [key, value] of rows) console.log(`${key.padEnd(width)}  ${String(value)}`);
}

await main();
