// The JetStream stream of one Herald service, as pure functions so that the edge (which creates
// the stream when it is missing) and the operator (which manages it in Kubernetes) agree on it.
// Everything here works on nats-server 2.9.10: no 2.10+ fields (metadata, subject_transform,
// compression, ...) are ever set.
import type { StreamConfig } from "@nats-io/jetstream";
import type { EdgeConfig } from "./config.js";

/** The part of the edge's configuration that defines the stream (the operator renders the same). */
export type StreamOptions = Pick<
  EdgeConfig,
  | "stream"
  | "subjectPrefix"
  | "streamReplicas"
  | "streamStorage"
  | "maxAgeSeconds"
  | "maxMsgsPerTopic"
  | "maxBytes"
  | "duplicateWindowSeconds"
>;

/** The fields Herald sets; everything else is left at the server's default. */
export type DesiredStreamConfig = Pick<
  StreamConfig,
  | "name"
  | "subjects"
  | "retention"
  | "storage"
  | "num_replicas"
  | "max_age"
  | "max_msgs_per_subject"
  | "max_msgs"
  | "max_bytes"
  | "discard"
  | "duplicate_window"
  | "allow_direct"
  | "republish"
>;

const NANOS_PER_SECOND = 1_000_000_000;

/** Subjects messages are stored on: `<prefix>.t.<topic>`. */
export const storedSubject = (prefix: string, topic: string) => `${prefix}.t.${topic}`;
/** Subjects JetStream republishes stored messages on: `<prefix>.live.<topic>`. */
export const liveSubject = (prefix: string, topic: string) => `${prefix}.live.${topic}`;

export function desiredStreamConfig(opts: StreamOptions): DesiredStreamConfig {
  return {
    name: opts.stream,
    subjects: [storedSubject(opts.subjectPrefix, ">")],
    retention: "limits",
    storage: opts.streamStorage,
    num_replicas: opts.streamReplicas,
    max_age: opts.maxAgeSeconds * NANOS_PER_SECOND,
    max_msgs_per_subject: opts.maxMsgsPerTopic,
    max_msgs: -1,
    max_bytes: opts.maxBytes,
    // Limits remove the oldest messages; publishers are never refused because the log is full.
    discard: "old",
    duplicate_window: opts.duplicateWindowSeconds * NANOS_PER_SECOND,
    allow_direct: true,
    // Every stored message is republished (with its stream seq and the subject's previous seq in
    // headers) to the live subject that edges subscribe to while they have local subscribers.
    republish: { src: storedSubject(opts.subjectPrefix, ">"), dest: liveSubject(opts.subjectPrefix, ">") },
  };
}

export interface StreamConfigProblem {
  readonly field: string;
  /**
   * "incompatible": Herald cannot run on this stream and it must not be changed in place (storage,
   * subjects, retention, republish, mirror): refuse and tell the operator of the system.
   * "required": Herald cannot run on this stream until it is fixed, but a stream update fixes it
   * safely (allow_direct, which nats-server 2.9.10 changes in place): the edge refuses to start,
   * the operator updates it.
   * "updatable": a limit or setting that a stream update can change safely; Herald runs meanwhile.
   */
  readonly kind: "incompatible" | "required" | "updatable";
  readonly message: string;
}

const show = (value: unknown) => (value === undefined ? "unset" : JSON.stringify(value));
const seconds = (nanos: number | undefined) =>
  nanos === undefined ? "unset" : `${Math.round(nanos / NANOS_PER_SECOND)}s`;

/** Differences between an existing stream's config and the desired one, each classified. */
export function streamConfigProblems(
  existing: Partial<StreamConfig>,
  desired: DesiredStreamConfig,
): StreamConfigProblem[] {
  const problems: StreamConfigProblem[] = [];
  const incompatible = (field: string, message: string) =>
    problems.push({ field, kind: "incompatible", message });
  const updatable = (field: string, message: string) => problems.push({ field, kind: "updatable", message });
  const name = desired.name;

  if (existing.storage !== desired.storage) {
    incompatible(
      "storage",
      `stream ${name} uses ${show(existing.storage)} storage, Herald is configured for ${show(desired.storage)}; storage cannot be changed in place`,
    );
  }
  const subjects = [...(existing.subjects ?? [])].sort();
  if (JSON.stringify(subjects) !== JSON.stringify([...desired.subjects].sort())) {
    incompatible(
      "subjects",
      `stream ${name} has subjects ${show(existing.subjects)}, Herald needs exactly ${show(desired.subjects)}`,
    );
  }
  if (existing.retention !== desired.retention) {
    incompatible(
      "retention",
      `stream ${name} has retention ${show(existing.retention)}, Herald needs "limits" (interest or workqueue retention would drop history)`,
    );
  }
  if (existing.mirror) {
    incompatible("mirror", `stream ${name} is a mirror; Herald needs a stream it can publish to`);
  }
  const republish = existing.republish;
  if (
    !republish ||
    republish.src !== desired.republish!.src ||
    republish.dest !== desired.republish!.dest ||
    republish.headers_only === true
  ) {
    incompatible(
      "republish",
      `stream ${name} republishes ${show(republish)}, Herald needs ${show(desired.republish)} (with bodies) for live delivery`,
    );
  }

  if (existing.num_replicas !== desired.num_replicas) {
    updatable(
      "num_replicas",
      `stream ${name} has ${show(existing.num_replicas)} replicas, desired ${desired.num_replicas}`,
    );
  }
  if (existing.max_age !== desired.max_age) {
    updatable(
      "max_age",
      `stream ${name} keeps messages ${seconds(existing.max_age)}, desired ${seconds(desired.max_age)}`,
    );
  }
  if (existing.max_msgs_per_subject !== desired.max_msgs_per_subject) {
    updatable(
      "max_msgs_per_subject",
      `stream ${name} keeps ${show(existing.max_msgs_per_subject)} messages per topic, desired ${desired.max_msgs_per_subject}`,
    );
  }
  if (existing.max_msgs !== desired.max_msgs) {
    updatable(
      "max_msgs",
      `stream ${name} has max_msgs ${show(existing.max_msgs)}, desired ${desired.max_msgs}`,
    );
  }
  if (existing.max_bytes !== desired.max_bytes) {
    updatable(
      "max_bytes",
      `stream ${name} keeps ${show(existing.max_bytes)} bytes, desired ${desired.max_bytes}`,
    );
  }
  if (existing.discard !== desired.discard) {
    updatable(
      "discard",
      `stream ${name} has discard policy ${show(existing.discard)}, desired ${show(desired.discard)}`,
    );
  }
  if (existing.duplicate_window !== desired.duplicate_window) {
    updatable(
      "duplicate_window",
      `stream ${name} has a duplicate window of ${seconds(existing.duplicate_window)}, desired ${seconds(desired.duplicate_window)}`,
    );
  }
  if (existing.allow_direct !== true) {
    problems.push({
      field: "allow_direct",
      kind: "required",
      message: `stream ${name} does not allow direct get, which Herald needs for reads and gap repair`,
    });
  }
  return problems;
}

/** The stream update that fixes every "updatable" problem, keeping the stream's other settings. */
export function streamUpdate(
  existing: Partial<StreamConfig>,
  desired: DesiredStreamConfig,
): Partial<StreamConfig> {
  const {
    name: _name,
    retention: _retention,
    storage: _storage,
    republish: _republish,
    subjects: _subjects,
    ...limits
  } = desired;
  return { ...existing, ...limits };
}
