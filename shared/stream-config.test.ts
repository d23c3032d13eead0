import test from "ava";
import { desiredStreamConfig, streamConfigProblems, streamUpdate } from "./stream-config.js";

const options = {
  stream: "HERALD",
  subjectPrefix: "herald",
  streamReplicas: 3,
  streamStorage: "file" as const,
  maxAgeSeconds: 3600,
  maxMsgsPerTopic: 100,
  maxBytes: 1 << 20,
  duplicateWindowSeconds: 120,
};

test("desired config follows docs/design.md#jetstream-backend", (t) => {
  t.deepEqual(desiredStreamConfig(options), {
    name: "HERALD",
    subjects: ["herald.t.>"],
    retention: "limits",
    storage: "file",
    num_replicas: 3,
    max_age: 3600e9,
    max_msgs_per_subject: 100,
    max_msgs: -1,
    max_bytes: 1 << 20,
    discard: "old",
    duplicate_window: 120e9,
    allow_direct: true,
    republish: { src: "herald.t.>", dest: "herald.live.>" },
  });
});

test("an identical stream has no problems", (t) => {
  const desired = desiredStreamConfig(options);
  t.deepEqual(streamConfigProblems({ ...desired, sealed: false }, desired), []);
});

test("storage, subjects and republish differences are incompatible", (t) => {
  const desired = desiredStreamConfig(options);
  const problems = streamConfigProblems(
    { ...desired, storage: "memory", subjects: ["other.>"], republish: undefined },
    desired,
  );
  t.deepEqual(
    problems.map((p) => [p.field, p.kind]),
    [
      ["storage", "incompatible"],
      ["subjects", "incompatible"],
      ["republish", "incompatible"],
    ],
  );
  t.is(
    problems[0]!.message,
    'stream HERALD uses "memory" storage, Herald is configured for "file"; storage cannot be changed in place',
  );
});

test("limit differences are updatable and streamUpdate fixes them", (t) => {
  const desired = desiredStreamConfig(options);
  const existing = { ...desired, num_replicas: 1, max_age: 60e9, allow_direct: false, description: "kept" };
  t.deepEqual(
    streamConfigProblems(existing, desired).map((p) => [p.field, p.kind]),
    [
      ["num_replicas", "updatable"],
      ["max_age", "updatable"],
      ["allow_direct", "required"],
    ],
  );
  const updated = streamUpdate(existing, desired);
  t.is(updated.description, "kept");
  t.deepEqual(streamConfigProblems(updated, desired), []);
});
