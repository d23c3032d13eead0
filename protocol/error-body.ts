// The body of every HTTP error response, {"error":{"code","message"}}: one encoder for the routes
// and for the refusals written straight to a socket.
import type { ErrorCode } from "./codes.js";
import type { ErrorBody } from "./frames.js";

export function encodeErrorBody(code: ErrorCode, message: string): string {
  const body: ErrorBody = { error: { code, message } };
  return JSON.stringify(body);
}
