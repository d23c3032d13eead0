// Many connections over several edges, scaled down to what this shared machine holds: `edges`
// JetStream edges on one nats-server, each with its own load processes connecting to it directly
// (up to 15,000 per edge and 5,000 per load process: one process may hold at most 20,000 open
// files), every connection on one of `topics` topics, `rate` messages/s spread over them. Reported:
// every delivery counted (0 lost is the bar), latency, and total RSS and CPU of the servers and of
// the load processes.
import type { ExecutionContext } from "ava";
import { spawnEdge, type EdgeProcess } from "../../e2e/harness/edge-process.js";
import { startNats } from "../../e2e/harness/nats-server.js";
import { Cleanup } from "../cleanup.js";
import { Driver } from "../lib/drive.js";
import { Histogram } from "../lib/histogram.js";
import { cpuPercent, sampleAll, type ProcSample } from "../lib/proc.js";
import { round, type Row } from "../lib/report.js";
import { builtEdge } from "../lib/build.js";
import { HERALD_BENCH_ENV, heraldPublisher } from "../lib/targets.js";
import { LoadPool } from "../load/pool.js";

export interface ScaleOptions {
  readonly edges: number;
  readonly perEdge: number;
  readonly topics: number;
  /** Messages per second over all topics. */
  readonly rate: number;
  readonly seconds: number;
}

export async function scale(options: ScaleOptions): Promise<Row[]> {
  const cleanup = new Cleanup();
  try {
    const nats = await startNats(cleanup);
    const edges: EdgeProcess[] = [];
    for (let i = 0; i < options.edges; i++)
      edges.push(
        await spawnEdge(
          cleanup as unknown as ExecutionContext,
          { ...HERALD_BENCH_ENV, HERALD_NATS_URL: nats.url },
          { nodeArgs: ["--max-old-space-size=4096"], built: builtEdge() },
        ),
      );
    const serverPids = [...edges.map((e) => e.pid), nats.pid];
    const idle = sampleAll(serverPids);
    const topics = Array.from({ length: options.topics }, (_, i) => `bench.scale-${i}`);
    const started = performance.now();
    const pools: LoadPool[] = [];
    for (const edge of edges) {
      // Each edge's connections cover every topic, so every edge subscribes to every topic.
      const pool = await LoadPool.start({
        kind: "herald",
        url: edge.wsUrl,
        connections: options.perEdge,
        topics,
        perWorker: 5_000,
        maxSeconds: 900,
      });
      cleanup.teardown(() => pool.kill());
      pools.push(pool);
    }
    const connectSeconds = (performance.now() - started) / 1000;
    const total = options.edges * options.perEdge;
    const all = {
      delivered: () => pools.reduce((sum, p) => sum + p.delivered(), 0),
      sample: (): ProcSample => {
        const samples = pools.map((p) => p.sample());
        // Each pool's sample includes this process: count it once.
        const self = sampleAll([process.pid]);
        return {
          rssBytes: samples.reduce((s, x) => s + x.rssBytes, 0) - (pools.length - 1) * self.rssBytes,
          cpuSeconds: samples.reduce((s, x) => s + x.cpuSeconds, 0) - (pools.length - 1) * self.cpuSeconds,
        };
      },
    };
    const loaded = sampleAll(serverPids);
    const publisher = await heraldPublisher(cleanup, edges[0]!.wsUrl);
    const target = {
      name: "herald-jetstream" as const,
      kind: "herald" as const,
      url: "",
      serverPids,
      ...publisher,
    };
    const driver = new Driver(target, all as unknown as LoadPool, topics, () => total / options.topics);
    const server = sampleAll(serverPids);
    const load = all.sample();
    const t0 = performance.now();
    await driver.openLoop(options.rate, options.seconds);
    await driver.drain();
    const secs = (performance.now() - t0) / 1000;
    const serverAfter = sampleAll(serverPids);
    const loadAfter = all.sample();
    const histogram = new Histogram();
    let delivered = 0;
    let outOfOrder = 0;
    let chainBreaks = 0;
    let closedEarly = 0;
    for (const pool of pools) {
      const stats = await pool.stop();
      histogram.merge(stats.histogram.sparse());
      delivered += stats.delivered;
      outOfOrder += stats.outOfOrder;
      chainBreaks += stats.chainBreaks;
      closedEarly += stats.closedEarly;
    }
    return [
      {
        edges: options.edges,
        connections: total,
        topics: options.topics,
        "msg/s": options.rate,
        "connect/s": Math.round(total / connectSeconds),
        delivered,
        lost: driver.expected - delivered,
        "p50 ms": round(histogram.quantile(0.5), 1),
        "p99 ms": round(histogram.quantile(0.99), 1),
        "servers RSS MiB": round(loaded.rssBytes / 2 ** 20),
        "server KB/conn": round((loaded.rssBytes - idle.rssBytes) / total / 1024),
        "servers CPU %": cpuPercent(server, serverAfter, secs),
        "load RSS MiB": round(loadAfter.rssBytes / 2 ** 20),
        "load CPU %": cpuPercent(load, loadAfter, secs),
        "out of order": outOfOrder,
        "prev breaks": chainBreaks,
        "closed early": closedEarly,
        "publish errors": target.errors(),
      },
    ];
  } finally {
    await cleanup.run();
  }
}
