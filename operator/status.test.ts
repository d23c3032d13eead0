import test from "ava";
import { readyCondition, statusChanged, withConditions } from "./status.js";

const stream = { type: "StreamReady", status: true, reason: "StreamReady", message: "ok" } as const;
const edgeDown = { type: "EdgeAvailable", status: false, reason: "EdgesNotReady", message: "0/2 edge pods ready" } as const;

test("Ready summarises the first failing condition", (t) => {
  t.deepEqual(readyCondition(stream, edgeDown), { type: "Ready", status: false, reason: "EdgesNotReady", message: "0/2 edge pods ready" });
  t.is(readyCondition(stream, { ...edgeDown, status: true, reason: "EdgesReady" }).status, true);
});

test("lastTransitionTime moves only when a status flips; observedGeneration always follows", (t) => {
  const first = withConditions(undefined, [stream, edgeDown], 1, new Date("2026-01-01T00:00:00Z"));
  const second = withConditions(first, [stream, { ...edgeDown, message: "1/2 edge pods ready" }], 2, new Date("2026-01-01T00:05:00Z"));
  t.is(second[0]!.lastTransitionTime, "2026-01-01T00:00:00Z");
  t.is(second[1]!.lastTransitionTime, "2026-01-01T00:00:00Z");
  t.is(second[1]!.observedGeneration, 2);
  const third = withConditions(second, [stream, { ...edgeDown, status: true, reason: "EdgesReady" }], 2, new Date("2026-01-01T00:06:00Z"));
  t.is(third[1]!.status, "True");
  t.is(third[1]!.lastTransitionTime, "2026-01-01T00:06:00Z");
  t.false(statusChanged({ observedGeneration: 2, conditions: third }, { observedGeneration: 2, conditions: third }));
  t.true(statusChanged({ observedGeneration: 2, conditions: second }, { observedGeneration: 2, conditions: third }));
});
