// docs/operations.md's metric tables and Prometheus text as tests read them: the documented
// metrics (name, type, label names, enumerated label values), a scrape as series → value, and
// the metric names a PromQL expression uses (for the dashboard and alert checks).
import { readFileSync } from "node:fs";
import type { ExecutionContext } from "ava";

export const OPERATIONS_DOC = new URL("../../docs/operations.md", import.meta.url);

export interface DocumentedMetric {
  readonly name: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly labels: readonly string[];
  /** Label values the table lists exhaustively, e.g. via → [ws, http]. */
  readonly values: ReadonlyMap<string, readonly string[]>;
}

/** The rows of the table under `heading` (a "### …" heading of docs/operations.md). */
export function documentedMetrics(heading: string): DocumentedMetric[] {
  const doc = readFileSync(OPERATIONS_DOC, "utf8");
  const start = doc.indexOf(`\n### ${heading}\n`);
  if (start < 0) throw new Error(`docs/operations.md has no section "### ${heading}"`);
  const end = doc.indexOf("\n#", start + 5);
  const metrics: DocumentedMetric[] = [];
  for (const line of doc.slice(start, end < 0 ? undefined : end).split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const name = /^`([a-z_:]+)`$/.exec(cells[1] ?? "")?.[1];
    if (!name) continue;
    const labels: string[] = [];
    const values = new Map<string, string[]>();
    // `a` (`x`, `y`), `b`: each label, with its values when they are all listed.
    for (const match of (cells[3] ?? "").matchAll(/`([a-z_]+)`(?: \(([^)]*)\))?/g)) {
      labels.push(match[1]!);
      const listed = match[2]?.split(",").map((v) => /^\s*`([^`]+)`\s*$/.exec(v)?.[1]);
      if (listed && listed.every((v) => v !== undefined)) values.set(match[1]!, listed as string[]);
    }
    metrics.push({ name, type: cells[2] as DocumentedMetric["type"], labels, values });
  }
  return metrics;
}

/** A /metrics text as series (name with labels, as exposed) → value. */
export function parseScrape(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

export async function scrape(url: string): Promise<Map<string, number>> {
  return parseScrape(await (await fetch(`${url}/metrics`)).text());
}

/** The series of one metric: [labels, value] pairs (the histogram's _count for histograms). */
export function seriesOf(
  samples: Map<string, number>,
  metric: DocumentedMetric,
): { labels: Record<string, string>; value: number }[] {
  const name = metric.type === "histogram" ? `${metric.name}_count` : metric.name;
  const found: { labels: Record<string, string>; value: number }[] = [];
  for (const [series, value] of samples) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$/.exec(series);
    if (match?.[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1]!] = pair[2]!;
    found.push({ labels, value });
  }
  return found;
}

/** Metric names of the series a scrape exposes (histograms by their family name too). */
export function exposedNames(samples: Map<string, number>): Set<string> {
  const names = new Set<string>();
  for (const series of samples.keys()) {
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(series)![0];
    names.add(name);
    names.add(name.replace(/_(bucket|sum|count)$/, ""));
  }
  return names;
}

/**
 * Checks every documented metric in a scrape: it is exposed, with exactly its documented label
 * names; a gauge by its entry in `gauges` (a documented gauge without one fails); a counter or a
 * histogram by `moved`.
 */
export function checkDocumented(
  t: ExecutionContext,
  documented: readonly DocumentedMetric[],
  after: Map<string, number>,
  gauges: Record<string, () => void>,
  moved: (metric: DocumentedMetric) => void,
): void {
  for (const metric of documented) {
    const series = seriesOf(after, metric);
    t.true(series.length > 0, `${metric.name} is exposed`);
    for (const { labels } of series)
      t.deepEqual(Object.keys(labels).sort(), [...metric.labels].sort(), `${metric.name}'s labels`);
    if (metric.type === "gauge") {
      const check = gauges[metric.name];
      if (check) check();
      else t.fail(`${metric.name}: a documented gauge this test does not check`);
    } else moved(metric);
  }
}

/** The exposed metric names that `owned` claims and no documented metric is (nor its family). */
export function undocumentedNames(
  exposed: Iterable<string>,
  documented: readonly DocumentedMetric[],
  owned: RegExp,
): string[] {
  return [...exposed].filter(
    (name) =>
      owned.test(name) &&
      !documented.some((m) => name === m.name || name.replace(/_(bucket|sum|count)$/, "") === m.name),
  );
}

const PROMQL_WORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "inf",
  "nan",
]);

/** The metric names a PromQL expression selects (functions, label matchers and keywords left out). */
export function metricNamesIn(expression: string): string[] {
  const stripped = expression
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // strings
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ") // label lists
    .replace(/\$\{?[a-zA-Z_]+\}?/g, " "); // Grafana variables
  const names: string[] = [];
  for (const match of stripped.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?/g)) {
    if (match[2] || PROMQL_WORDS.has(match[1]!.toLowerCase()) || /^\d/.test(match[1]!)) continue;
    // Duration suffixes and numbers (5m, 1e3) are not names.
    if (/^[0-9]/.test(match[1]!)) continue;
    names.push(match[1]!);
  }
  return names;
}
