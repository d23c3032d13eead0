import test from "ava";
import { edgeCondition, readyCondition, statusChanged, withConditions } from "./status.js";

const stream = { type: "StreamReady", status: true, reason: "StreamReady", message: "ok" } as const;
const edgeDown = {
  type: "EdgeAvailable",
  status: false,
  reason: "EdgesNotReady",
  message: "0/2 edge pods ready",
} as const;

test("Ready summarises the first failing condition", (t) => {
  t.deepEqual(readyCondition(stream, edgeDown), {
    type: "Ready",
    status: false,
    reason: "EdgesNotReady",
    message: "0/2 edge pods ready",
  });
  t.is(readyCondition(stream, { ...edgeDown, status: true, reason: "EdgesReady" }).status, true);
});

test("lastTransitionTime moves only when a status flips; observedGeneration always follows", (t) => {
  const first = withConditions(undefined, [stream, edgeDown], 1, new Date("2026-01-01T00:00:00Z"));
  const second = withConditions(
    first,
    [stream, { ...edgeDown, message: "1/2 edge pods ready" }],
    2,
    new Date("2026-01-01T00:05:00Z"),
  );
  t.is(second[0]!.lastTransitionTime, "2026-01-01T00:00:00Z");
  t.is(second[1]!.lastTransitionTime, "2026-01-01T00:00:00Z");
  t.is(second[1]!.observedGeneration, 2);
  const third = withConditions(
    second,
    [stream, { ...edgeDown, status: true, reason: "EdgesReady" }],
    2,
    new Date("2026-01-01T00:06:00Z"),
  );
  t.is(third[1]!.status, "True");
  t.is(third[1]!.lastTransitionTime, "2026-01-01T00:06:00Z");
  t.false(
    statusChanged({ observedGeneration: 2, conditions: third }, { observedGeneration: 2, conditions: third }),
  );
  t.true(
    statusChanged(
      { observedGeneration: 2, conditions: second },
      { observedGeneration: 2, conditions: third },
    ),
  );
});

const rolledOut = {
  metadata: { generation: 3 },
  spec: { replicas: 2 },
  status: {
    observedGeneration: 3,
    replicas: 2,
    updatedReplicas: 2,
    availableReplicas: 2,
    conditions: [{ type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" }],
  },
};

test("EdgeAvailable is True only when the current generation is rolled out (as kubectl rollout status)", (t) => {
  const reason = (deployment: Parameters<typeof edgeCondition>[0]) => {
    const c = edgeCondition(deployment);
    return `${String(c.status)} ${c.reason}: ${c.message}`;
  };
  t.is(reason(rolledOut), "true EdgesReady: 2/2 edge pods available (generation 3 rolled out)");
  t.is(reason(undefined), "false RollingOut: the edge Deployment does not exist yet");
  t.is(
    reason({ ...rolledOut, metadata: { generation: 4 } }),
    "false RollingOut: waiting for the Deployment controller to observe generation 4",
  );
  t.is(
    reason({ ...rolledOut, status: { ...rolledOut.status, updatedReplicas: 1, replicas: 3 } }),
    "false RollingOut: 1 of 2 edge pods updated to generation 3",
  );
  t.is(
    reason({ ...rolledOut, status: { ...rolledOut.status, replicas: 3 } }),
    "false RollingOut: 1 old edge pods pending termination",
  );
  const rolling = {
    ...rolledOut.status,
    availableReplicas: 1,
    conditions: [{ type: "Progressing", status: "True", reason: "ReplicaSetUpdated" }],
  };
  t.is(reason({ ...rolledOut, status: rolling }), "false RollingOut: 1/2 edge pods available");
  t.is(
    reason({ ...rolledOut, status: { ...rolledOut.status, availableReplicas: 1 } }),
    "false EdgesNotReady: 1/2 edge pods available",
    "a finished rollout that lost a pod",
  );
  const stuck = {
    ...rolling,
    conditions: [
      {
        type: "Progressing",
        status: "False",
        reason: "ProgressDeadlineExceeded",
        message: 'ReplicaSet "x" has timed out progressing.',
      },
    ],
  };
  t.is(
    reason({ ...rolledOut, status: stuck }),
    'false ProgressDeadlineExceeded: rollout of generation 3 is stuck: ReplicaSet "x" has timed out progressing.',
  );
  t.is(
    reason({ metadata: { generation: 2 }, spec: { replicas: 0 }, status: { observedGeneration: 2 } }),
    "false ScaledToZero: 0 edge pods wanted",
  );
});
