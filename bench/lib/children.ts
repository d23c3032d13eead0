// Every process a benchmark starts is registered here and killed by its pid: by the scenario's
// cleanup when it ends, and, whatever happened (an exception, Ctrl-C, the run's time bound), when
// the benchmark process itself exits. Nothing it starts outlives it.
import { fork, spawn, type ChildProcess, type ForkOptions, type SpawnOptions } from "node:child_process";

const running = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  return track(spawn(command, args, options));
}

export function forkTracked(module: string, args: string[], options: ForkOptions = {}): ChildProcess {
  return track(fork(module, args, { execArgv: ["--import", "tsx"], ...options }));
}

/** SIGKILL by pid, then wait until it is gone. */
export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise((resolve) => child.once("exit", resolve));
  try {
    process.kill(child.pid, "SIGKILL");
  } catch {
    // Exited meanwhile (its exit event is on its way).
  }
  await gone;
}

function killAll(): void {
  for (const child of running) {
    try {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

process.once("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Ends the whole run (killing what it started) if it has not finished within `ms`. */
export function boundRun(ms: number): void {
  setTimeout(() => {
    console.error(`benchmark run exceeded its bound of ${ms / 1000} s: stopping`);
    process.exit(2);
  }, ms).unref();
}
