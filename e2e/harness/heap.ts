// Reads the heap of an edge spawned with HEAP_PROBE (--expose-gc and heap-probe.ts): SIGUSR2 makes
// it collect garbage and print one heap_probe line on stdout, which heapOf waits for.
import { fileURLToPath } from "node:url";
import type { EdgeProcess, SpawnOptions } from "./edge-process.js";
import { waitFor } from "./wait.js";

/** spawnEdge options for an edge whose heap a test reads with heapOf. */
export const HEAP_PROBE: SpawnOptions = {
  nodeArgs: ["--expose-gc"],
  imports: [fileURLToPath(new URL("./heap-probe.ts", import.meta.url))],
};

export const MiB = 1024 * 1024;
export const mib = (bytes: number) => (bytes / MiB).toFixed(1);

export interface Heap {
  readonly heapUsed: number;
  readonly arrayBuffers: number;
  /** Whether the edge could collect garbage first (runs with --expose-gc). */
  readonly gc: boolean;
}

const probeLines = (edge: EdgeProcess) =>
  edge
    .stdout()
    .split("\n")
    .filter((line) => line.includes('"heap_probe"'));

export async function heapOf(edge: EdgeProcess): Promise<Heap> {
  const before = probeLines(edge).length;
  edge.kill("SIGUSR2");
  return waitFor(
    "the edge to report its heap",
    () => {
      const lines = probeLines(edge);
      return lines.length > before ? (JSON.parse(lines.at(-1)!) as Heap) : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
}
