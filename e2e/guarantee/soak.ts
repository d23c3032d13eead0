// npm run soak -- --seed S --minutes M [--backends embedded,jetstream,jetstream-r3] [--steps N] [--runs N]
//
// Runs the guarantee checker for as long as asked: run i uses seed S+i on the backends in turn
// (each run its own processes), prints one line per run and, at the end, the table of
// docs/guarantees.md. Exits 1 if any violation was found; each failing run's seed reproduces it:
// `npm run soak -- --seed <that seed> --runs 1 --backends <its backend>`.
import { parseArgs } from "node:util";
import { runScenario, type RunResult } from "./runner.js";
import { scenarioFor } from "./scenario.js";
import { Scope } from "./scope.js";
import { formatTable, rowsOf, runLine, violations } from "./table.js";
import type { BackendName } from "./world.js";

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: String(Date.now() % 1_000_000) },
    minutes: { type: "string", default: "5" },
    backends: { type: "string", default: "embedded,jetstream,jetstream-r3" },
    steps: { type: "string" },
    faults: { type: "string" },
    runs: { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});

const seed = Number(values.seed);
const minutes = Number(values.minutes);
const backends = values.backends.split(",").map((b) => b.trim()) as BackendName[];
const maxRuns = values.runs === undefined ? Infinity : Number(values.runs);
for (const b of backends) {
  if (!["embedded", "jetstream", "jetstream-r3"].includes(b)) throw new Error(`unknown backend ${b}`);
}
const STEPS: Record<BackendName, number> = { embedded: 120, jetstream: 90, "jetstream-r3": 70 };
const FAULTS: Record<BackendName, number> = { embedded: 4, jetstream: 8, "jetstream-r3": 6 };
/** One run takes about a minute at most; one still going after this is stuck. */
const RUN_LIMIT_MS = 5 * 60_000;

console.log(`guarantee soak: seed ${seed}, ${minutes} min, backends ${backends.join(", ")}`);
const deadline = Date.now() + minutes * 60_000;
const results: RunResult[] = [];
// Stopped early (Ctrl-C, a timeout): the current run's processes must not outlive it.
let current: Scope | undefined;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void (current?.close() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}
for (let i = 0; i < maxRuns && (i === 0 || Date.now() < deadline); i++) {
  const backend = backends[i % backends.length]!;
  const scenario = scenarioFor(seed + i, backend, {
    steps: values.steps ? Number(values.steps) : STEPS[backend],
    faults: values.faults ? Number(values.faults) : FAULTS[backend],
  });
  const scope = new Scope();
  current = scope;
  try {
    // A run that hangs (a wait that never ends) must not hold the soak: it fails, and its
    // processes go with its scope.
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      runScenario(scope, scenario, values.verbose ? (line) => console.log(`  ${line}`) : undefined),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`did not finish within ${RUN_LIMIT_MS / 60_000} min`)),
          RUN_LIMIT_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    results.push(result);
    console.log(runLine(result));
    if (values.verbose)
      for (const line of [...result.faults.map((f) => `fault: ${f}`), ...result.notes])
        console.log(`  ${line}`);
    if (violations(result.counts) > 0)
      for (const detail of result.details.slice(0, 40)) console.log(`  ${detail}`);
  } catch (error) {
    console.log(
      `seed ${seed + i} ${backend}: the run itself failed: ${error instanceof Error ? error.stack : String(error)}`,
    );
    process.exitCode = 2;
  } finally {
    await scope.close();
  }
}
console.log("");
console.log(formatTable(rowsOf(results)));
const total = results.reduce((n, r) => n + violations(r.counts), 0);
console.log("");
console.log(`${results.length} runs, ${total} violations`);
if (total > 0) process.exitCode = 1;
process.exit();
