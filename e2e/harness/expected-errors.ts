// The exact error messages several e2e tables pin, written out once. They are literals on purpose
// (not imported from protocol/): a test must fail when the edge's wording changes.

/** Ends the err message for an unknown or missing op. */
export const OPS = "expected one of sub, unsub, pub, auth, ping";
export const WILDCARDS =
  "topic must not contain wildcards (* or >); they are only allowed in entitlement patterns";
export const EMPTY_TOKEN = "topic has an empty token (leading, trailing or double dot)";
export const CHARACTERS = "topic tokens may only contain A-Z a-z 0-9 _ - : @ = +";
/** Data nested past MAX_DATA_DEPTH; WebSocket prefixes it with "pub frame: ", HTTP with nothing. */
export const DATA_TOO_DEEP = "field 'data' nests deeper than 64 levels";
export const NOT_JSON_BODY = "request body is not valid JSON";
export const NOT_JSON_FRAME = "frame is not valid JSON";
/** The 4009 reason for a frame beyond twice the default 64 KiB limit, which the edge stops reading. */
export const FRAME_NOT_READ = "frame of more than 131072 bytes is over the limit of 65536 bytes";
