// Close codes, error codes and their HTTP statuses: the one list for edge and client.

export const SUBPROTOCOL = "herald.v1";
export const WS_PATH = "/v1/ws";

/** WebSocket close codes of herald.v1 (docs/design.md#close-codes). */
export const CloseCode = {
  /** The edge is draining; reconnect anywhere. */
  Draining: 1001,
  /** No valid token, or the token expired without refresh. */
  Unauthenticated: 4001,
  /** The token does not allow what the connection needs. */
  Forbidden: 4003,
  /** The client fell behind its bounded send buffer; reconnect and resume. */
  SlowConsumer: 4008,
  /** A per-connection limit was exceeded: subscriptions, frame size or rate. */
  LimitExceeded: 4009,
  /** A frame that is not a JSON object (or a binary frame). */
  Malformed: 4400,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Error codes carried by `err` frames and HTTP error bodies, with the HTTP status each maps to. */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_frame: 400,
  invalid_topic: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  /** A WebSocket upgrade with another method than GET. */
  method_not_allowed: 405,
  /** HTTP only: the request (headers or body) did not arrive within HERALD_UPGRADE_TIMEOUT_MS. */
  request_timeout: 408,
  already_subscribed: 409,
  not_subscribed: 409,
  payload_too_large: 413,
  limit_exceeded: 429,
  rate_limited: 429,
  /** HTTP only: the request line and headers are over 32 KiB (a 16 KiB token and 16 KiB more). */
  headers_too_large: 431,
  internal: 500,
  unavailable: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;
export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

/**
 * What a client should do once the edge closed its connection with `code`: the one rule for every
 * client (the SDK derives its reconnect behaviour from it; docs/protocol.md "Close codes").
 * - `resume`: reconnect at once (to any edge) and resume every subscription from its position;
 *   nothing is wrong with the client. After a 4008 on a connection that made no progress (the
 *   resume's own replay overflowed the send buffer), back off instead, or the same close repeats in
 *   a tight loop.
 * - `backoff`: reconnect after an exponentially growing delay: at once would meet the same refusal.
 * - `new_token`: reconnect only with a different token; with the same one the edge refuses again.
 */
export type CloseAdvice = "resume" | "backoff" | "new_token";

export const CLOSE_ADVICE: Readonly<Record<CloseCode, CloseAdvice>> = {
  [CloseCode.Draining]: "resume",
  [CloseCode.Unauthenticated]: "new_token",
  [CloseCode.Forbidden]: "new_token",
  [CloseCode.SlowConsumer]: "resume",
  [CloseCode.LimitExceeded]: "backoff",
  [CloseCode.Malformed]: "backoff",
};

/** The advice for any close code; codes herald.v1 does not define (1006: the network) mean `backoff`. */
export function closeAdvice(code: number): CloseAdvice {
  return Object.hasOwn(CLOSE_ADVICE, code) ? CLOSE_ADVICE[code as CloseCode] : "backoff";
}

/**
 * What a client should do with a request (a `sub`, a `pub`, an HTTP call) the edge refused with an
 * error code: the one rule for every client.
 * - `retry`: the same request may succeed later; ask again after a backoff delay.
 * - `fail`: the request itself is refused (wrong, too big, not allowed); asking again changes nothing.
 * - `new_token`: the credential was refused; only a different token can help.
 * - `unsub_first`: an earlier subscription to the topic is still in force on this connection:
 *   `unsub`, then `sub` again.
 */
export type ErrorAdvice = "retry" | "fail" | "new_token" | "unsub_first";

export const ERROR_ADVICE: Readonly<Record<ErrorCode, ErrorAdvice>> = {
  bad_request: "fail",
  invalid_frame: "fail",
  invalid_topic: "fail",
  unauthenticated: "new_token",
  forbidden: "fail",
  not_found: "fail",
  method_not_allowed: "fail",
  request_timeout: "retry",
  already_subscribed: "unsub_first",
  not_subscribed: "fail",
  payload_too_large: "fail",
  limit_exceeded: "fail",
  rate_limited: "retry",
  headers_too_large: "fail",
  internal: "retry",
  unavailable: "retry",
};
