// CPU time and resident memory of a process, read from /proc (Linux): what every result reports
// for the server under test and, beside it, for the load generator's own processes.
import { readFileSync } from "node:fs";

export interface ProcSample {
  readonly rssBytes: number;
  readonly cpuSeconds: number;
}

/** Clock ticks per second of /proc/<pid>/stat on Linux. */
const TICKS = 100;

export function sample(pid: number): ProcSample {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat; the name (field 2) may hold spaces.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return { rssBytes: rssKb * 1024, cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS };
  } catch {
    return { rssBytes: 0, cpuSeconds: 0 };
  }
}

export function sampleAll(pids: readonly number[]): ProcSample {
  let rssBytes = 0;
  let cpuSeconds = 0;
  for (const pid of pids) {
    const s = sample(pid);
    rssBytes += s.rssBytes;
    cpuSeconds += s.cpuSeconds;
  }
  return { rssBytes, cpuSeconds };
}

/** CPU used between two samples as a percentage of one core over `seconds`. */
export function cpuPercent(before: ProcSample, after: ProcSample, seconds: number): number {
  return Math.round(((after.cpuSeconds - before.cpuSeconds) / seconds) * 100);
}
