// Makes sure the service's stream exists with a config Herald can run on, and derives the epoch
// (the identity of the stream's history) from it.
import { createHash } from "node:crypto";
import { JetStreamApiCodes, type JetStreamManager, type StreamInfo } from "@nats-io/jetstream";
import { isDefiniteApiError } from "./errors.js";
import { streamConfigProblems, type DesiredStreamConfig } from "./stream-config.js";

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

/**
 * The epoch: a hash of the stream's name and creation time. Both survive server restarts and
 * leader changes (the creation time is part of the replicated stream assignment); a deleted and
 * re-created stream gets a new creation time, hence a new epoch.
 */
export function epochOf(info: StreamInfo): string {
  return createHash("sha256").update(`${info.config.name}\n${info.created}`).digest("base64url").slice(0, 22);
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (isDefiniteApiError(err) && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw err;
  }
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
      info = await jsm.streams.add(desired);
      return { info, drift: [] };
    } catch (err) {
      // Another edge created it at the same moment: check the one that exists.
      if (!(isDefiniteApiError(err) && err.code === STREAM_NAME_IN_USE)) throw err;
      info = await jsm.streams.info(desired.name);
    }
  }
  const problems = streamConfigProblems(info.config, desired);
  // The edge reads and repairs gaps with direct get: without it the stream is unusable for us.
  const refused = problems.filter((p) => p.kind === "incompatible" || p.field === "allow_direct");
  if (refused.length > 0) throw new StreamIncompatibleError(desired.name, refused.map((p) => p.message));
  return { info, drift: problems.map((p) => p.message) };
}
