// Reading the service's stream: its info (absent or present, as JetStream definitely answered) and
// its epoch. The edge (which creates the stream when it is missing) and the operator (which manages
// it) read the stream the same way, so they agree on the epoch clients see.
import { createHash } from "node:crypto";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type StreamInfo,
} from "@nats-io/jetstream";

/** A JetStream API error with a definite answer (not a 503 "no leader / no responders"). */
export function isDefiniteApiError(err: unknown): err is JetStreamApiError {
  return err instanceof JetStreamApiError && err.status !== 503;
}

/**
 * The epoch: a hash of the stream's name and creation time. Both survive server restarts and
 * leader changes (the creation time is part of the replicated stream assignment); a deleted and
 * re-created stream gets a new creation time, hence a new epoch.
 */
export function epochOf(info: StreamInfo): string {
  return createHash("sha256").update(`${info.config.name}\n${info.created}`).digest("base64url").slice(0, 22);
}

/** The stream's info, or undefined when it does not exist. */
export async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (isDefiniteApiError(err) && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw err;
  }
}
