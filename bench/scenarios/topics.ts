// Many topics: (a) every connection on a topic of its own, each topic published at 1 message/s
// (open loop, N messages/s in all), reported as delivery latency; (b) `topics` topics of
// `perTopic` subscribers each at the saturating rate (closed loop), reported as deliveries/s.
import { Cleanup } from "../cleanup.js";
import { Driver } from "../lib/drive.js";
import { cpuPercent, sampleAll } from "../lib/proc.js";
import { round, type Row } from "../lib/report.js";
import { startTarget, type Target, type TargetName, type TargetOptions } from "../lib/targets.js";
import { LoadPool, type MergedStats } from "../load/pool.js";

export interface TopicsOptions {
  readonly targets: TargetName[];
  /** (a): connections, each on its own topic at 1 message/s. */
  readonly ownTopic: number;
  /** (b): topics × subscribers per topic, closed loop. */
  readonly topics: number;
  readonly perTopic: number;
  readonly perWorker: number;
  readonly seconds: number;
  readonly lag: number;
  readonly target?: TargetOptions;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function withLoad<T>(
  name: TargetName,
  options: TopicsOptions,
  topics: string[],
  connections: number,
  run: (target: Target, pool: LoadPool) => Promise<T>,
): Promise<T> {
  const cleanup = new Cleanup();
  try {
    const target = await startTarget(cleanup, name, options.target);
    const pool = await LoadPool.start({
      kind: target.kind,
      url: target.url,
      connections,
      topics,
      perWorker: options.perWorker,
      maxSeconds: 600,
    });
    cleanup.teardown(() => pool.kill());
    await sleep(1000);
    return await run(target, pool);
  } finally {
    await cleanup.run();
  }
}

/** The last columns of both tables: did every message arrive, once and in order, and did publishing fail. */
function deliveryColumns(target: Target, driver: Driver, stats: MergedStats): Row {
  return {
    delivered: stats.delivered,
    lost: driver.expected - stats.delivered,
    "out of order": stats.outOfOrder,
    "prev breaks": stats.chainBreaks,
    "publish errors": target.errors(),
  };
}

export async function ownTopic(options: TopicsOptions): Promise<Row[]> {
  const n = options.ownTopic;
  const topics = Array.from({ length: n }, (_, i) => `bench.own-${i}`);
  const rows: Row[] = [];
  for (const name of options.targets) {
    rows.push(
      await withLoad(name, options, topics, n, async (target, pool) => {
        const driver = new Driver(target, pool, topics, () => 1);
        const server = sampleAll(target.serverPids);
        const load = pool.sample();
        const t0 = performance.now();
        await driver.openLoop(n, options.seconds);
        const publishSeconds = (performance.now() - t0) / 1000;
        await driver.drain();
        const secs = (performance.now() - t0) / 1000;
        const serverAfter = sampleAll(target.serverPids);
        const loadAfter = pool.sample();
        const stats = await pool.stop();
        return {
          target: name,
          connections: n,
          "msg/s asked": n,
          "msg/s sent": Math.round(driver.sent / publishSeconds),
          "p50 ms": round(stats.histogram.quantile(0.5), 2),
          "p99 ms": round(stats.histogram.quantile(0.99), 2),
          "max ms": round(stats.histogram.quantile(1), 1),
          "server CPU %": cpuPercent(server, serverAfter, secs),
          "server RSS MiB": round(serverAfter.rssBytes / 2 ** 20),
          "load CPU %": cpuPercent(load, loadAfter, secs),
          "load RSS MiB": round(loadAfter.rssBytes / 2 ** 20),
          ...deliveryColumns(target, driver, stats),
        };
      }),
    );
  }
  return rows;
}

export async function manyTopics(options: TopicsOptions): Promise<Row[]> {
  const topics = Array.from({ length: options.topics }, (_, i) => `bench.many-${i}`);
  const connections = options.topics * options.perTopic;
  const rows: Row[] = [];
  for (const name of options.targets) {
    rows.push(
      await withLoad(name, options, topics, connections, async (target, pool) => {
        const driver = new Driver(target, pool, topics, () => options.perTopic);
        const server = sampleAll(target.serverPids);
        const load = pool.sample();
        const t0 = performance.now();
        const perSecond = await driver.closedLoop(options.lag * options.topics, options.seconds);
        const secs = (performance.now() - t0) / 1000;
        const serverAfter = sampleAll(target.serverPids);
        const loadAfter = pool.sample();
        await driver.drain();
        const stats = await pool.stop();
        return {
          target: name,
          topics: options.topics,
          "subs/topic": options.perTopic,
          "max deliveries/s": Math.round(perSecond),
          "msg/s": Math.round(perSecond / options.perTopic),
          "p50 ms": round(stats.histogram.quantile(0.5), 1),
          "p99 ms": round(stats.histogram.quantile(0.99), 1),
          "server CPU %": cpuPercent(server, serverAfter, secs),
          "load CPU %": cpuPercent(load, loadAfter, secs),
          ...deliveryColumns(target, driver, stats),
        };
      }),
    );
  }
  return rows;
}
