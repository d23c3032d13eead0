// Tables on stdout and JSON under bench/results/ (git-ignored): every result of a run together,
// with when and where it was measured, since only figures of one run on one machine compare.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";

export type Row = Record<string, string | number | boolean | null>;

export function printTable(title: string, rows: readonly Row[]): void {
  console.log(`\n${title}`);
  if (rows.length === 0) return;
  const header = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cells = rows.map((row) => header.map((key) => format(row[key] ?? null)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) =>
    values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join("  ");
  console.log(line(header));
  for (const row of cells) console.log(line(row));
}

function format(value: string | number | boolean | null): string {
  if (typeof value === "number")
    return Number.isInteger(value) ? value.toLocaleString("en-US") : String(value);
  return value === null ? "-" : String(value);
}

export function machine(): Record<string, unknown> {
  return {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? "unknown",
    node: process.version,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function writeResults(name: string, data: unknown): string {
  mkdirSync("bench/results", { recursive: true });
  const file = `bench/results/${name}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
  writeFileSync(file, JSON.stringify(data, null, 2) + "\n");
  return file;
}

export const round = (n: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};
