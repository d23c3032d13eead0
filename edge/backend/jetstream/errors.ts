// Which NATS failures mean "the durable log cannot be reached right now" (the edge answers 503 and
// the caller retries) as opposed to a definite refusal by JetStream (a bug or a misconfiguration).
import { isDefiniteApiError } from "../../../shared/stream-info.js";
import { errors } from "@nats-io/nats-core";
import { BackendUnavailableError } from "../backend.js";

/** A NATS request that got no answer in time (counted in herald_jetstream_timeouts_total). */
export class JetStreamTimeoutError extends BackendUnavailableError {}

function isTimeout(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause)
    if (e instanceof errors.TimeoutError) return true;
  return false;
}

/**
 * Turns a failed NATS request into BackendUnavailableError, unless JetStream definitely refused it.
 * A timeout is ambiguous for a publish (it may have been stored): the message says to retry with
 * the same msgId, which the duplicate window turns into the original seq.
 */
export function unavailable(err: unknown, what: string): Error {
  if (err instanceof BackendUnavailableError || isDefiniteApiError(err)) return err;
  const reason = err instanceof Error ? err.message : String(err);
  const message = `JetStream unavailable: ${what} failed (${reason})`;
  return isTimeout(err) ? new JetStreamTimeoutError(message) : new BackendUnavailableError(message);
}
