// The guarantee checker in the normal suite: one fixed seed per backend, short runs (docs/guarantees.md).
// Each seed's scenario is chosen to hold the faults of its backend and every kind of start
// (asserted below, so a change of the generator cannot quietly drop them). Longer and other
// seeds: `npm run soak -- --seed S --minutes M` (docs/guarantees.md).
import test from "ava";
import { VIOLATIONS, type Violation } from "./checker.js";
import { runScenario } from "./runner.js";
import { scenarioFor } from "./scenario.js";
import { formatTable, rowsOf, runLine } from "./table.js";
import type { BackendName, Fault } from "./world.js";

interface Fixed {
  readonly seed: number;
  readonly backend: BackendName;
  readonly steps: number;
  readonly faults: number;
  /** The faults this seed's scenario injects (at least). */
  readonly injects: Fault["kind"][];
}

const FIXED: Fixed[] = [
  { seed: 9370, backend: "embedded", steps: 70, faults: 3, injects: ["edgeKill", "drain", "recreate"] },
  {
    seed: 10739,
    backend: "jetstream",
    steps: 60,
    faults: 5,
    injects: ["cut", "natsRestart", "recreate", "edgeKill", "drain"],
  },
  {
    seed: 9343,
    backend: "jetstream-r3",
    steps: 45,
    faults: 3,
    injects: ["leaderKill", "edgeKill", "recreate"],
  },
];

/** Seeds that once found a defect, kept as they are: each names what it found. */
const REGRESSIONS: (Omit<Fixed, "injects"> & { readonly found: string })[] = [
  {
    seed: 9194,
    backend: "jetstream",
    steps: 60,
    faults: 5,
    found:
      "a client that had a re-created stream's messages resumed on an edge that had not adopted its epoch yet: it got recovered:false at the old head, then those messages again",
  },
  {
    seed: 8002,
    backend: "jetstream-r3",
    steps: 70,
    faults: 6,
    found:
      "a topic emptied by max_age got its next message in the slot after prev 0 as the window of the first one ended: one replica took it for a duplicate, the others stored it, and a resume read the follower's head one seq off (recovered:false)",
  },
];

const zeros = Object.fromEntries(VIOLATIONS.map((v) => [v, 0])) as Record<Violation, number>;

for (const fixed of FIXED) {
  test.serial(
    `${fixed.backend}, seed ${fixed.seed}: no message lost, duplicated, reordered or under a wrong epoch; recovered exactly when it should be; nothing stuck`,
    async (t) => {
      t.timeout(170_000);
      const scenario = scenarioFor(fixed.seed, fixed.backend, fixed);
      const kinds = new Set(scenario.steps.flatMap((s) => (s.op === "fault" ? [s.fault.kind] : [])));
      t.deepEqual(
        fixed.injects.filter((k) => !kinds.has(k)),
        [],
        "the scenario injects the faults it was chosen for",
      );
      const starts = new Set(scenario.steps.flatMap((s) => (s.op === "sub" ? [s.from.kind] : [])));
      t.deepEqual(
        ["live", "last", "valid", "aged", "future", "foreign"].filter((k) => !starts.has(k as never)),
        [],
        "the scenario subscribes from every kind of position",
      );
      t.is(scenario.profile.name, "retention", "short retention (max_age, messages per topic)");

      const result = await runScenario(t, scenario);
      t.log(runLine(result));
      for (const fault of result.faults) t.log(`fault: ${fault}`);
      for (const note of result.notes) t.log(note);
      t.log(`\n${formatTable(rowsOf([result]))}`);
      const found = Object.fromEntries(VIOLATIONS.map((v) => [v, result.counts[v]]));
      t.deepEqual(found, zeros, result.details.slice(0, 60).join("\n"));
      t.true(result.counts.deliveries > 0 && result.counts.published > 0);
    },
  );
}

for (const seed of REGRESSIONS) {
  test.serial(`${seed.backend}, seed ${seed.seed} (found: ${seed.found}): no violation`, async (t) => {
    t.timeout(170_000);
    const result = await runScenario(t, scenarioFor(seed.seed, seed.backend, seed));
    t.log(runLine(result));
    const found = Object.fromEntries(VIOLATIONS.map((v) => [v, result.counts[v]]));
    t.deepEqual(found, zeros, result.details.slice(0, 60).join("\n"));
    t.true(result.counts.deliveries > 0 && result.counts.published > 0);
  });
}
