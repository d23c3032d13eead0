// Publish-to-deliver latency (p50/p99) and throughput of one edge process, with the embedded
// backend and with JetStream (R1 file; R3 on a 3-node cluster with --cluster). Loopback only and
// bounded (a few seconds per backend). Prints a table and writes JSON under bench/results/.
//
//   node --import tsx bench/latency.ts [--cluster] [--subscribers N] [--messages N]
//
// Latency: one publisher sends `pub` frames at a steady pace on a WebSocket; each of N subscribers
// notes when each message arrives; latency = arrival - send time (same process, same clock).
// Throughput: the publisher keeps `window` publishes in flight over 10 topics; reported as acked
// publishes per second and delivered frames per second.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import type { ExecutionContext } from "ava";
import WebSocket from "ws";
import { decodeEdgeFrames, SUBPROTOCOL, type EdgeFrame } from "../protocol/index.js";
import { spawnEdge, type EdgeProcess } from "../e2e/harness/edge-process.js";
import { builtEdge } from "./lib/build.js";
import { startNats, startNatsCluster } from "../e2e/harness/nats-server.js";
import { Cleanup } from "./cleanup.js";

const { values: args } = parseArgs({
  options: {
    cluster: { type: "boolean", default: false },
    subscribers: { type: "string", default: "20" },
    messages: { type: "string", default: "1000" },
    window: { type: "string", default: "64" },
  },
});
const SUBSCRIBERS = Number(args.subscribers);
const LATENCY_MESSAGES = Number(args.messages);
const THROUGHPUT_MESSAGES = LATENCY_MESSAGES * 4;
const WINDOW = Number(args.window);
const PACE_PER_SECOND = 500;
const TOPICS = Array.from({ length: 10 }, (_, i) => `bench.topic-${i}`);

const now = () => performance.now();

class Socket {
  readonly frames: ((frame: EdgeFrame) => void)[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      for (const frame of decodeEdgeFrames(data.toString()))
        for (const listener of this.frames) listener(frame);
    });
  }
  static open(url: string): Promise<Socket> {
    const ws = new WebSocket(url, [SUBPROTOCOL]);
    const socket = new Socket(ws);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(socket));
      ws.once("error", reject);
    });
  }
  request(frame: Record<string, unknown> & { id: string }): Promise<EdgeFrame> {
    return new Promise((resolve) => {
      const listener = (reply: EdgeFrame) => {
        if ("id" in reply && reply.id === frame.id) {
          this.frames.splice(this.frames.indexOf(listener), 1);
          resolve(reply);
        }
      };
      this.frames.push(listener);
      this.ws.send(JSON.stringify(frame));
    });
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface Result {
  backend: string;
  subscribers: number;
  latencyMessages: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  publishesPerSecond: number;
  deliveriesPerSecond: number;
}

async function measure(backend: string, edge: EdgeProcess): Promise<Result> {
  const subscribers = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => Socket.open(edge.wsUrl)));
  const publisher = await Socket.open(edge.wsUrl);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let delivered = 0;
  await Promise.all(
    subscribers.map(async (s, i) => {
      s.frames.push((frame) => {
        if (frame.op !== "msg") return;
        delivered++;
        const sent = sentAt.get(String(frame.data));
        if (sent !== undefined) latencies.push(now() - sent);
      });
      // Every subscriber takes every topic: each message fans out to all of them.
      for (const topic of TOPICS) await s.request({ op: "sub", topic, id: `${i}:${topic}` });
    }),
  );
  const expected = (count: number) => delivered >= count;
  const waitFor = async (count: number) => {
    const deadline = Date.now() + 60_000;
    while (!expected(count)) {
      if (Date.now() > deadline) throw new Error(`${backend}: only ${delivered} of ${count} deliveries`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  // Latency: a steady pace well below capacity, one message at a time.
  for (let i = 0; i < LATENCY_MESSAGES; i++) {
    const data = `lat-${i}`;
    sentAt.set(data, now());
    const ack = await publisher.request({ op: "pub", topic: TOPICS[i % TOPICS.length]!, data, id: `p${i}` });
    if (ack.op !== "ack") throw new Error(`${backend}: publish refused: ${JSON.stringify(ack)}`);
    await new Promise((resolve) => setTimeout(resolve, 1000 / PACE_PER_SECOND));
  }
  await waitFor(LATENCY_MESSAGES * SUBSCRIBERS);

  // Throughput: `WINDOW` publishes in flight.
  const base = delivered;
  const started = now();
  let next = 0;
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < THROUGHPUT_MESSAGES) {
        const i = next++;
        const ack = await publisher.request({
          op: "pub",
          topic: TOPICS[i % TOPICS.length]!,
          data: `tp-${i}`,
          id: `t${i}`,
        });
        if (ack.op !== "ack") throw new Error(`${backend}: publish refused: ${JSON.stringify(ack)}`);
      }
    }),
  );
  const acked = now();
  await waitFor(base + THROUGHPUT_MESSAGES * SUBSCRIBERS);
  const done = now();
  for (const s of [...subscribers, publisher]) s.ws.terminate();

  latencies.sort((a, b) => a - b);
  return {
    backend,
    subscribers: SUBSCRIBERS,
    latencyMessages: LATENCY_MESSAGES,
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies.at(-1) ?? NaN),
    publishesPerSecond: Math.round(THROUGHPUT_MESSAGES / ((acked - started) / 1000)),
    deliveriesPerSecond: Math.round((THROUGHPUT_MESSAGES * SUBSCRIBERS) / ((done - started) / 1000)),
  };
}

const round = (n: number) => Math.round(n * 100) / 100;

const edgeEnv = {
  HERALD_ALLOW_ANONYMOUS: "true",
  HERALD_ANONYMOUS_PUBLISH: "true",
  HERALD_PUBLISHES_PER_SECOND: "1000000",
  HERALD_FRAMES_PER_SECOND: "1000000",
  HERALD_SEND_BUFFER_BYTES: String(64 * 1024 * 1024),
  HERALD_LOG_LEVEL: "warn",
};

async function main(): Promise<void> {
  const results: Result[] = [];
  const run = async (backend: string, start: (cleanup: Cleanup) => Promise<EdgeProcess>) => {
    const cleanup = new Cleanup();
    try {
      results.push(await measure(backend, await start(cleanup)));
    } finally {
      await cleanup.run();
    }
  };
  // spawnEdge only calls t.teardown: the bench's Cleanup stands in for a test context.
  const asContext = (cleanup: Cleanup) => cleanup as unknown as ExecutionContext;
  const compiled = { built: builtEdge() };
  await run("embedded", (c) => spawnEdge(asContext(c), edgeEnv, compiled));
  await run("jetstream R1 file", async (c) => {
    const nats = await startNats(c);
    return spawnEdge(asContext(c), { ...edgeEnv, HERALD_NATS_URL: nats.url }, compiled);
  });
  if (args.cluster) {
    await run("jetstream R3 file (3 nodes)", async (c) => {
      const cluster = await startNatsCluster(c, 3);
      return spawnEdge(
        asContext(c),
        {
          ...edgeEnv,
          HERALD_NATS_URL: cluster.urls.join(","),
          HERALD_STREAM_REPLICAS: "3",
        },
        compiled,
      );
    });
  }

  const header = ["backend", "subs", "p50 ms", "p99 ms", "max ms", "publishes/s", "deliveries/s"];
  const rows = results.map((r) =>
    [r.backend, r.subscribers, r.p50Ms, r.p99Ms, r.maxMs, r.publishesPerSecond, r.deliveriesPerSecond].map(
      String,
    ),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(line(header));
  for (const row of rows) console.log(line(row));

  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version };
  const file = `bench/results/latency-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        options: {
          subscribers: SUBSCRIBERS,
          latencyMessages: LATENCY_MESSAGES,
          throughputMessages: THROUGHPUT_MESSAGES,
          window: WINDOW,
          pacePerSecond: PACE_PER_SECOND,
        },
        results,
      },
      null,
      2,
    ),
  );
  console.log(`\nwritten to ${file}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
