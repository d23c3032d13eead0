// The checker's table: per backend and scenario, how much was published and checked, and each
// violation count (all must be 0). The suite logs it; `npm run soak` prints it.
import { addCounts, emptyCounts, VIOLATIONS, type Counts } from "./checker.js";
import type { RunResult } from "./runner.js";

export interface Row {
  readonly backend: string;
  readonly scenario: string;
  runs: number;
  readonly counts: Counts;
}

const HEADERS: Record<string, string> = {
  lost: "lost",
  duplicated: "duplicated",
  reordered: "reordered",
  wrongEpoch: "wrong epoch",
  falseRecovered: "false recovered:true",
  needlessUnrecovered: "needless recovered:false",
  stuck: "stuck",
  brokenChain: "broken prev chain",
};

export function rowsOf(results: readonly RunResult[]): Row[] {
  const rows = new Map<string, Row>();
  for (const result of results) {
    const key = `${result.scenario.backend}\n${result.scenario.profile.name}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        backend: result.scenario.backend,
        scenario: result.scenario.profile.name,
        runs: 0,
        counts: emptyCounts(),
      };
      rows.set(key, row);
    }
    row.runs++;
    addCounts(row.counts, result.counts);
  }
  return [...rows.values()].sort((a, b) =>
    `${a.backend}${a.scenario}`.localeCompare(`${b.backend}${b.scenario}`),
  );
}

export function violations(counts: Counts): number {
  return VIOLATIONS.reduce((sum, kind) => sum + counts[kind], 0);
}

/** A Markdown table. */
export function formatTable(rows: readonly Row[]): string {
  const header = [
    "backend",
    "scenario",
    "runs",
    "published",
    "deliveries checked",
    ...VIOLATIONS.map((v) => HEADERS[v]!),
  ];
  const lines = rows.map((row) => [
    row.backend,
    row.scenario,
    String(row.runs),
    String(row.counts.published),
    String(row.counts.deliveries),
    ...VIOLATIONS.map((v) => String(row.counts[v])),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) =>
    `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i < 2 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [format(header), rule, ...lines.map(format)].join("\n");
}

/** One line per run: its seed (to reproduce it), what it did, and what was wrong. */
export function runLine(result: RunResult): string {
  const { scenario, counts } = result;
  const p = scenario.profile;
  const bad = VIOLATIONS.filter((v) => counts[v] > 0).map((v) => `${v} ${counts[v]}`);
  return (
    `seed ${scenario.seed} ${scenario.backend} ${p.name} (max_age ${p.maxAgeSeconds}s, ${p.maxMsgsPerTopic}/topic, ring ${p.cachePerTopic}, page ${p.historyLimit}, buffer ${p.sendBufferBytes / 1024} KiB): ` +
    `${scenario.steps.length} steps, ${result.faults.length} faults, ${counts.published} published, ${counts.deliveries} deliveries checked, ` +
    `${(result.ms / 1000).toFixed(1)} s (settled in ${(result.settleMs / 1000).toFixed(1)} s): ${bad.length === 0 ? "no violation" : bad.join(", ")}`
  );
}
