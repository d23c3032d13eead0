// Close codes, error codes and their HTTP statuses: the one list for edge and client.

export const SUBPROTOCOL = "herald.v1";
export const WS_PATH = "/v1/ws";

/** WebSocket close codes of herald.v1 (DESIGN.md "Close codes"). */
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
  /** HTTP only: the request line and headers are over 16 KiB. */
  headers_too_large: 431,
  internal: 500,
  unavailable: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;
export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];
