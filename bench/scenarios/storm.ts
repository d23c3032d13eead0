// Scale and reconnect storm: `edges` JetStream edges on one nats-server behind the TCP balancer
// (round robin, as a cloud L4 balancer; in several processes sharing its port when the connections
// do not fit in one), `subscribers` connections over several load processes on `topics` topics,
// `rate` messages per second spread over the topics, published through the first edge. Phase 1 (scale): every delivery counted, total memory and CPU of the
// servers and of the load. Phase 2 (storm): the last edge is SIGKILLed while publishing goes on;
// its subscribers reconnect through the balancer (random pause up to 1 s, as the SDK's backoff)
// and resume from their positions. Reported: how many resumed, close-to-subok times, losses, and
// the JetStream range reads the surviving edges made for them (single-flight: about one per topic
// per edge).
import type { ExecutionContext } from "ava";
import { spawnEdge, type EdgeProcess } from "../../e2e/harness/edge-process.js";
import { startNats } from "../../e2e/harness/nats-server.js";
import { Cleanup } from "../cleanup.js";
import { Driver } from "../lib/drive.js";
import { cpuPercent, sampleAll } from "../lib/proc.js";
import { round, type Row } from "../lib/report.js";
import { startSharedBalancer, CONNECTIONS_PER_BALANCER } from "../lib/balancers.js";
import { builtEdge } from "../lib/build.js";
import { HERALD_BENCH_ENV, heraldPublisher } from "../lib/targets.js";
import { LoadPool } from "../load/pool.js";

export interface StormOptions {
  readonly edges: number;
  readonly subscribers: number;
  readonly topics: number;
  readonly perWorker: number;
  readonly seconds: number;
  /** Messages per second over all topics. */
  readonly rate: number;
}

/** Connections one edge takes (HERALD_MAX_CONNECTIONS of the bench, under 20,000 open files). */
const PER_EDGE = Number(HERALD_BENCH_ENV.HERALD_MAX_CONNECTIONS);

const RESUME_JITTER_MS = 1000;

/** herald_backend_reads_total by kind, summed over the edges. */
async function reads(edges: readonly EdgeProcess[]): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  for (const edge of edges) {
    const text = await (await fetch(`${edge.metricsUrl}/metrics`)).text();
    for (const match of text.matchAll(/^herald_backend_reads_total\{kind="([^"]+)"\} (\d+)/gm))
      sums[match[1]!] = (sums[match[1]!] ?? 0) + Number(match[2]);
  }
  return sums;
}

export async function storm(options: StormOptions): Promise<Row[]> {
  // After the kill, the surviving edges hold every subscriber.
  if (options.subscribers > (options.edges - 1) * PER_EDGE)
    throw new Error(
      `${options.subscribers} subscribers do not fit on ${options.edges - 1} edges of ${PER_EDGE} connections once one is killed`,
    );
  const cleanup = new Cleanup();
  try {
    const nats = await startNats(cleanup);
    const edges: EdgeProcess[] = [];
    for (let i = 0; i < options.edges; i++) {
      edges.push(
        await spawnEdge(
          cleanup as unknown as ExecutionContext,
          { ...HERALD_BENCH_ENV, HERALD_NATS_URL: nats.url },
          { nodeArgs: ["--max-old-space-size=4096"], built: builtEdge() },
        ),
      );
    }
    const balancer = await startSharedBalancer(
      cleanup,
      edges.map((e) => e.port),
      Math.ceil(options.subscribers / CONNECTIONS_PER_BALANCER),
    );
    const topics = Array.from({ length: options.topics }, (_, i) => `bench.storm-${i}`);
    const pool = await LoadPool.start({
      kind: "herald",
      url: balancer.wsUrl,
      connections: options.subscribers,
      topics,
      perWorker: options.perWorker,
      maxSeconds: 600,
      resumeJitterMs: RESUME_JITTER_MS,
    });
    cleanup.teardown(() => pool.kill());
    const serverPids = [...edges.map((e) => e.pid), nats.pid];
    const loaded = sampleAll(serverPids);
    const publisher = await heraldPublisher(cleanup, edges[0]!.wsUrl);
    const target = {
      name: "herald-jetstream" as const,
      kind: "herald" as const,
      url: balancer.wsUrl,
      serverPids,
      ...publisher,
    };
    const perTopic = (i: number) =>
      Math.floor(options.subscribers / options.topics) + (i < options.subscribers % options.topics ? 1 : 0);
    const driver = new Driver(target, pool, topics, perTopic);

    // Phase 1: everyone subscribed, 1 message/s per topic.
    let server = sampleAll(serverPids);
    let load = pool.sample();
    let balancing = sampleAll(balancer.pids);
    let t0 = performance.now();
    await driver.openLoop(options.rate, options.seconds);
    await driver.drain();
    let secs = (performance.now() - t0) / 1000;
    const scale = await pool.phase();
    const scaleErrors = target.errors();
    const scaleRow: Row = {
      phase: "scale",
      edges: options.edges,
      subscribers: options.subscribers,
      topics: options.topics,
      "msg/s": options.rate,
      delivered: scale.delivered,
      lost: driver.expected - scale.delivered,
      "p50 ms": round(scale.histogram.quantile(0.5), 1),
      "p99 ms": round(scale.histogram.quantile(0.99), 1),
      "servers RSS MiB": round(loaded.rssBytes / 2 ** 20),
      "servers CPU %": cpuPercent(server, sampleAll(serverPids), secs),
      "load RSS MiB": round(pool.sample().rssBytes / 2 ** 20),
      "load CPU %": cpuPercent(load, pool.sample(), secs),
      "balancer RSS MiB": round(sampleAll(balancer.pids).rssBytes / 2 ** 20),
      "balancer CPU %": cpuPercent(balancing, sampleAll(balancer.pids), secs),
      "out of order": scale.outOfOrder,
      "prev breaks": scale.chainBreaks,
      // Refused publishes are counted in lost and leave a gap in the payload numbers (out of order).
      "publish errors": scaleErrors,
    };

    // Phase 2: kill the last edge a third into the publishing.
    const before = await reads(edges.slice(0, -1));
    const victim = edges.at(-1)!;
    const affected = await balancer.connectionsTo(victim.port);
    const expectedBefore = driver.expected;
    const survivors = serverPids.filter((pid) => pid !== victim.pid);
    server = sampleAll(survivors);
    load = pool.sample();
    balancing = sampleAll(balancer.pids);
    t0 = performance.now();
    const publishing = driver.openLoop(options.rate, options.seconds);
    await new Promise((resolve) => setTimeout(resolve, (options.seconds * 1000) / 3));
    victim.kill("SIGKILL");
    balancer.remove(victim.port);
    await publishing;
    await driver.drain(RESUME_JITTER_MS + 10_000);
    secs = (performance.now() - t0) / 1000;
    const after = await reads(edges.slice(0, -1));
    const serverAfter = sampleAll(survivors);
    const loadAfter = pool.sample();
    const balancingAfter = sampleAll(balancer.pids);
    const stormStats = await pool.stop();
    const rangeReads =
      (after.resume ?? 0) - (before.resume ?? 0) + (after.backfill ?? 0) - (before.backfill ?? 0);
    return [
      scaleRow,
      {
        phase: "storm",
        edges: `${options.edges} (1 killed)`,
        subscribers: options.subscribers,
        topics: options.topics,
        "msg/s": options.rate,
        delivered: stormStats.delivered,
        lost: driver.expected - expectedBefore - stormStats.delivered,
        "p50 ms": round(stormStats.histogram.quantile(0.5), 1),
        "p99 ms": round(stormStats.histogram.quantile(0.99), 1),
        "servers RSS MiB": round(serverAfter.rssBytes / 2 ** 20),
        "servers CPU %": cpuPercent(server, serverAfter, secs),
        "load RSS MiB": round(loadAfter.rssBytes / 2 ** 20),
        "load CPU %": cpuPercent(load, loadAfter, secs),
        "balancer RSS MiB": round(balancingAfter.rssBytes / 2 ** 20),
        "balancer CPU %": cpuPercent(balancing, balancingAfter, secs),
        "out of order": stormStats.outOfOrder,
        "prev breaks": stormStats.chainBreaks,
        "publish errors": target.errors() - scaleErrors,
        "affected (open on killed edge)": affected,
        resumed: stormStats.resumed,
        "not recovered": stormStats.notRecovered,
        "resume p50 / p99 / max ms": `${round(stormStats.resumeHistogram.quantile(0.5), 0)} / ${round(stormStats.resumeHistogram.quantile(0.99), 0)} / ${round(stormStats.resumeHistogram.quantile(1), 0)}`,
        "JetStream range reads": rangeReads,
        "reads per topic per edge": round(rangeReads / options.topics / (options.edges - 1), 2),
      },
    ];
  } finally {
    await cleanup.run();
  }
}
