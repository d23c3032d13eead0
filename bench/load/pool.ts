// The load generator: subscriber connections spread over several worker processes (each under
// the 20,000 open files one process may hold here, each from its own 127.0.0.x source address),
// their progress summed for the closed-loop publisher, their statistics merged per phase.
import type { ChildProcess } from "node:child_process";
import { forkTracked, kill } from "../lib/children.js";
import { Histogram } from "../lib/histogram.js";
import { sampleAll, type ProcSample } from "../lib/proc.js";
import type { Kind } from "./protocols.js";
import { CONNECTIONS_PER_ADDRESS, freshAddresses } from "./source-addresses.js";
import type { FromWorker, PhaseStats, ToWorker, WorkerArgs } from "./worker.js";

export interface PoolOptions {
  readonly kind: Kind;
  readonly url: string;
  readonly connections: number;
  readonly topics: string[];
  readonly perWorker: number;
  readonly maxSeconds: number;
  /** Herald: reconnect and resume on close (see WorkerArgs.resumeJitterMs). */
  readonly resumeJitterMs?: number;
}

export interface MergedStats extends Omit<PhaseStats, "histogram" | "resumeHistogram"> {
  histogram: Histogram;
  resumeHistogram: Histogram;
}

const MAX_PER_WORKER = 19_000;

export class LoadPool {
  private readonly workers: ChildProcess[] = [];
  private readonly progress: number[] = [];
  connectSeconds = 0;

  private constructor() {}

  static async start(options: PoolOptions): Promise<LoadPool> {
    if (options.perWorker > MAX_PER_WORKER)
      throw new Error(`one process may hold at most 20,000 open files: ${options.perWorker} per worker`);
    const pool = new LoadPool();
    const started = performance.now();
    const ready: Promise<unknown>[] = [];
    for (let offset = 0, i = 0; offset < options.connections; offset += options.perWorker, i++) {
      const count = Math.min(options.perWorker, options.connections - offset);
      const args: WorkerArgs = {
        kind: options.kind,
        url: options.url,
        count,
        topics: options.topics,
        offset,
        localAddresses: freshAddresses(Math.ceil(count / CONNECTIONS_PER_ADDRESS)),
        concurrency: 100,
        maxSeconds: options.maxSeconds,
        ...(options.resumeJitterMs === undefined ? {} : { resumeJitterMs: options.resumeJitterMs }),
      };
      const worker = forkTracked("bench/load/worker.ts", []);
      worker.send({ type: "start", args } satisfies ToWorker);
      pool.workers.push(worker);
      pool.progress.push(0);
      worker.on("message", (message: FromWorker) => {
        if (message.type === "progress") pool.progress[i] = message.delivered;
      });
      ready.push(pool.next(worker, "ready"));
    }
    try {
      await Promise.all(ready);
    } catch (error) {
      await pool.kill();
      throw error;
    }
    pool.connectSeconds = (performance.now() - started) / 1000;
    return pool;
  }

  get pids(): number[] {
    return this.workers.map((w) => w.pid!);
  }

  sample(): ProcSample {
    return sampleAll([process.pid, ...this.pids]);
  }

  /** Deliveries counted by all workers so far (as of their last report, at most 25 ms old). */
  delivered(): number {
    return this.progress.reduce((a, b) => a + b, 0);
  }

  /** Ends a phase: the statistics since the previous one, merged. */
  phase(): Promise<MergedStats> {
    return this.collect({ type: "phase" });
  }

  async stop(): Promise<MergedStats> {
    const stats = await this.collect({ type: "stop" });
    await this.kill();
    return stats;
  }

  async kill(): Promise<void> {
    await Promise.all(this.workers.map(kill));
  }

  private async collect(command: ToWorker): Promise<MergedStats> {
    const all = await Promise.all(
      this.workers.map((worker) => {
        const reply = this.next(worker, "stats");
        worker.send(command);
        return reply as Promise<Extract<FromWorker, { type: "stats" }>>;
      }),
    );
    const merged: MergedStats = {
      delivered: 0,
      outOfOrder: 0,
      chainBreaks: 0,
      closedEarly: 0,
      histogram: new Histogram(),
      resumed: 0,
      notRecovered: 0,
      resumeHistogram: new Histogram(),
    };
    for (const { stats } of all) {
      merged.delivered += stats.delivered;
      merged.outOfOrder += stats.outOfOrder;
      merged.chainBreaks += stats.chainBreaks;
      merged.closedEarly += stats.closedEarly;
      merged.histogram.merge(stats.histogram);
      merged.resumed += stats.resumed;
      merged.notRecovered += stats.notRecovered;
      merged.resumeHistogram.merge(stats.resumeHistogram);
    }
    return merged;
  }

  private next(worker: ChildProcess, type: FromWorker["type"]): Promise<FromWorker> {
    // "close", not "exit": a worker that answers and exits at once (stop) may have its exit seen
    // before the answer still in the IPC channel; close comes after the channel has been read.
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => {
        worker.off("message", onMessage);
        reject(new Error(`load worker exited with ${code}`));
      };
      const onMessage = (message: FromWorker) => {
        if (message.type === "error") {
          worker.off("close", onExit);
          worker.off("message", onMessage);
          reject(new Error(`load worker failed: ${message.message}`));
        } else if (message.type === type) {
          worker.off("message", onMessage);
          worker.off("close", onExit);
          resolve(message);
        }
      };
      worker.on("message", onMessage);
      worker.once("close", onExit);
    });
  }
}
