// A refused request, with its herald.v1 error code: the one error type behind `err` frames and
// HTTP error bodies, so WebSocket and HTTP refuse the same things with the same words.
import { AuthError } from "../auth/grants.js";
import { BackendUnavailableError } from "../backend/backend.js";
import type { ErrorCode } from "../../protocol/index.js";

export class RequestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** For `unavailable`: when to retry (HTTP Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "RequestError";
  }
}

/** Maps any error thrown while serving a request to the code and message the client gets. */
export function toRequestError(error: unknown): RequestError {
  if (error instanceof RequestError) return error;
  if (error instanceof AuthError) return new RequestError(error.code, error.message);
  if (error instanceof BackendUnavailableError) {
    return new RequestError("unavailable", error.message, error.retryAfterSeconds);
  }
  // Anything else is our fault: say so without leaking internals.
  return new RequestError("internal", "internal error; the failure was logged");
}
