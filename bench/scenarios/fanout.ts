// One topic, many subscribers, every target in turn with the same load processes and payloads:
// connections opened per second, idle memory per subscribed connection, latency at a fixed low
// rate, then the maximum sustained deliveries per second (closed loop) and the latency there.
import { Cleanup } from "../cleanup.js";
import { Driver } from "../lib/drive.js";
import { cpuPercent, sampleAll } from "../lib/proc.js";
import { round, type Row } from "../lib/report.js";
import { startTarget, type TargetName, type TargetOptions } from "../lib/targets.js";
import { LoadPool } from "../load/pool.js";

export interface FanoutOptions {
  readonly targets: TargetName[];
  readonly subscribers: number;
  readonly perWorker: number;
  /** Messages per second of the latency phase (to all subscribers of the one topic). */
  readonly lowRate: number;
  readonly seconds: number;
  /** Messages whose deliveries may be outstanding in the closed loop. */
  readonly lag: number;
  readonly target?: TargetOptions;
}

const TOPIC = "bench.fanout";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function fanout(options: FanoutOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for (const name of options.targets) {
    const cleanup = new Cleanup();
    try {
      const target = await startTarget(cleanup, name, options.target);
      await sleep(500);
      const idle = sampleAll(target.serverPids);
      const idleHeap = await target.heap?.();
      const pool = await LoadPool.start({
        kind: target.kind,
        url: target.url,
        connections: options.subscribers,
        topics: [TOPIC],
        perWorker: options.perWorker,
        maxSeconds: 600,
      });
      cleanup.teardown(() => pool.kill());
      await sleep(1000);
      const loaded = sampleAll(target.serverPids);
      const loadedHeap = await target.heap?.();
      const driver = new Driver(target, pool, [TOPIC], () => options.subscribers);

      // Latency at a low fixed rate.
      let server = sampleAll(target.serverPids);
      let load = pool.sample();
      let t0 = performance.now();
      await driver.openLoop(options.lowRate, options.seconds);
      await driver.drain();
      let secs = (performance.now() - t0) / 1000;
      const low = await pool.phase();
      const lowServerCpu = cpuPercent(server, sampleAll(target.serverPids), secs);
      const lowLoadCpu = cpuPercent(load, pool.sample(), secs);

      // Saturation: as fast as the slowest delivery allows.
      server = sampleAll(target.serverPids);
      load = pool.sample();
      t0 = performance.now();
      const perSecond = await driver.closedLoop(options.lag, options.seconds);
      secs = (performance.now() - t0) / 1000;
      const satServerCpu = cpuPercent(server, sampleAll(target.serverPids), secs);
      const satLoad = pool.sample();
      const satLoadCpu = cpuPercent(load, satLoad, secs);
      await driver.drain();
      const sat = await pool.stop();
      const lost = driver.expected - low.delivered - sat.delivered;

      rows.push({
        target: name,
        subscribers: options.subscribers,
        "connect/s": Math.round(options.subscribers / pool.connectSeconds),
        "idle KB/conn": round((loaded.rssBytes - idle.rssBytes) / options.subscribers / 1024),
        "heap KB/conn after GC":
          idleHeap === undefined || loadedHeap === undefined
            ? null
            : round((loadedHeap - idleHeap) / options.subscribers / 1024),
        "server RSS MiB": round(loaded.rssBytes / 2 ** 20),
        [`p50 ms @${options.lowRate}/s`]: round(low.histogram.quantile(0.5), 2),
        [`p99 ms @${options.lowRate}/s`]: round(low.histogram.quantile(0.99), 2),
        "low: server CPU %": lowServerCpu,
        "low: load CPU %": lowLoadCpu,
        "max deliveries/s": Math.round(perSecond),
        "sat p50 ms": round(sat.histogram.quantile(0.5)),
        "sat p99 ms": round(sat.histogram.quantile(0.99)),
        "sat: server CPU %": satServerCpu,
        "sat: load CPU %": satLoadCpu,
        "load RSS MiB": round(satLoad.rssBytes / 2 ** 20),
        delivered: low.delivered + sat.delivered,
        lost,
        "out of order": low.outOfOrder + sat.outOfOrder,
        "prev breaks": low.chainBreaks + sat.chainBreaks,
        "closed early": low.closedEarly + sat.closedEarly,
        "publish errors": target.errors(),
      });
    } finally {
      await cleanup.run();
    }
  }
  return rows;
}
