// Makes sure the service's stream exists with a config Herald can run on (the epoch is derived
// from its info by shared/stream-info.ts).
import { setTimeout as sleep } from "node:timers/promises";
import type { JetStreamManager, StreamInfo } from "@nats-io/jetstream";
import { streamConfigProblems, type DesiredStreamConfig } from "../../../shared/stream-config.js";
import { isDefiniteApiError, streamInfo } from "../../../shared/stream-info.js";

/** JetStream API error code "stream name already in use with a different configuration". */
const STREAM_NAME_IN_USE = 10058;

export class StreamIncompatibleError extends Error {
  constructor(stream: string, problems: string[]) {
    super(
      `JetStream stream ${stream} cannot be used by this edge:\n${problems.map((p) => `  - ${p}`).join("\n")}\n` +
        "Fix the stream (or delete it so the edge re-creates it), or change the edge's HERALD_STREAM* settings.",
    );
    this.name = "StreamIncompatibleError";
  }
}

/** A stream younger than this may still see concurrent creations being applied. */
const YOUNG_STREAM_MS = 30_000;
const SETTLE_MS = 300;
const SETTLE_ROUNDS = 20;

/**
 * When several edges create the stream at the same moment, a cluster (seen on 2.9.10) accepts
 * each identical add and applies them one after the other: the creation time, hence the epoch,
 * changes until the last one is applied, and edges reading in between disagree. For a young
 * stream, read until the creation time holds still over SETTLE_MS.
 */
async function settledInfo(jsm: JetStreamManager, info: StreamInfo): Promise<StreamInfo> {
  if (Date.now() - Date.parse(info.created) > YOUNG_STREAM_MS) return info;
  let current = info;
  for (let round = 0; round < SETTLE_ROUNDS; round++) {
    await sleep(SETTLE_MS);
    const next = await jsm.streams.info(current.config.name);
    if (next.created === current.created) return next;
    current = next;
  }
  return current;
}

/**
 * Returns the stream's info, creating the stream when it is missing. Throws StreamIncompatibleError
 * when an existing stream differs in a way Herald cannot run on. Limits that differ are left alone
 * (in Kubernetes the operator owns them) and returned as `drift` for the caller to log.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  desired: DesiredStreamConfig,
): Promise<{ info: StreamInfo; drift: string[] }> {
  let info = await streamInfo(jsm, desired.name);
  if (!info) {
    try {
      await jsm.streams.add(desired);
    } catch (err) {
      // Another edge created it at the same moment with another config: check the one that exists.
      if (!(isDefiniteApiError(err) && err.code === STREAM_NAME_IN_USE)) throw err;
    }
    info = await jsm.streams.info(desired.name);
  }
  info = await settledInfo(jsm, info);
  const problems = streamConfigProblems(info.config, desired);
  // "required" problems (direct get, which reads and gap repair need) are fixable, but not by the
  // edge, which leaves the stream's settings to the operator: it cannot run until they are fixed.
  const refused = problems.filter((p) => p.kind !== "updatable");
  if (refused.length > 0)
    throw new StreamIncompatibleError(
      desired.name,
      refused.map((p) => p.message),
    );
  return { info, drift: problems.map((p) => p.message) };
}
