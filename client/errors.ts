// Errors the SDK hands to the application carry the herald.v1 error code, so callers can branch
// on `code` rather than parse messages.
import type { ErrorCode } from "../protocol/codes.js";

/** A refusal from the edge (`err` frame or close code), or a client-side failure. */
export class HeraldError extends Error {
  constructor(
    /** The edge's error code (protocol/codes.ts), or "closed" (the client or subscription ended), "protocol" (an edge frame the SDK could not read). */
    readonly code: ErrorCode | "closed" | "protocol",
    message: string,
  ) {
    super(message);
    this.name = "HeraldError";
  }
}
