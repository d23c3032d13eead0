// The msgId of a publish (docs/design.md#why-msgid-is-scoped-per-topic): the dedupe key of one message
// on one topic within the duplicate window. 1 to 128 printable ASCII characters, space excluded
// (0x21 to 0x7E): alike on both backends, nothing a header could split on (CR, LF) or trim
// (spaces), nothing whose length differs between UTF-16 and UTF-8. The WebSocket `pub` frame and
// HTTP publish check it with the same rule.

export const MAX_MSG_ID_LENGTH = 128;
/** The charset as a JSON Schema pattern (the frames' schemas carry it). */
export const MSG_ID_PATTERN = "^[\\x21-\\x7E]+$";

const MSG_ID = /^[\x21-\x7E]{1,128}$/;

/** Why `msgId` is not a valid msgId, or undefined when it is. Messages are meant for people. */
export function msgIdProblem(msgId: unknown): string | undefined {
  if (typeof msgId !== "string") return "msgId must be a string";
  if (msgId.length === 0) return "msgId must not be empty";
  if (msgId.length > MAX_MSG_ID_LENGTH) return `msgId is longer than ${MAX_MSG_ID_LENGTH} characters`;
  if (!MSG_ID.test(msgId))
    return "msgId may only contain printable ASCII characters other than space (! to ~; no spaces, control characters such as CR or LF, or non-ASCII)";
  return undefined;
}
