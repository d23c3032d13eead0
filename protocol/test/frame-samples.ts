// Valid instances of the protocol's frames and bodies, and field-by-field mutations of them (values
// near every bound, missing and extra fields): what two validators of one schema must agree on.
import fc from "fast-check";

/** A valid instance of each definition checked, to be mutated field by field. */
export const EXAMPLES: Record<string, unknown> = {
  SubFrame: { op: "sub", topic: "a.b", id: 1, from: { epoch: "e", seq: 3 } },
  UnsubFrame: { op: "unsub", topic: "a.b", id: "u" },
  PubFrame: { op: "pub", topic: "a", data: { x: 1 }, id: 2, msgId: "m" },
  AuthFrame: { op: "auth", token: "t", id: 3 },
  PingFrame: { op: "ping", id: 4 },
  WelcomeFrame: {
    op: "welcome",
    session: "s",
    heartbeatMs: 25000,
    limits: {
      maxFrameBytes: 1,
      maxSubscriptions: 2,
      sendBufferBytes: 3,
      framesPerSecond: 4,
      publishesPerSecond: 5,
    },
  },
  SubOkFrame: { op: "subok", id: 1, topic: "a", epoch: "e", seq: 0, recovered: true },
  MsgFrame: { op: "msg", topic: "a", seq: 2, prev: 1, data: null, ts: 5 },
  AckFrame: { op: "ack", id: 1, seq: 4, dup: false },
  ErrFrame: { op: "err", id: "x", code: "forbidden", message: "no" },
  ReconnectFrame: { op: "reconnect", afterMs: 10 },
  PublishResult: { seq: 7, dup: true },
  ErrorBody: { error: { code: "unavailable", message: "later" } },
  PublishBody: [{ topic: "a", data: 1, msgId: "m" }],
  HistoryResponse: {
    topic: "a",
    epoch: "e",
    recovered: true,
    messages: [{ seq: 2, prev: 1, data: "d", ts: 3 }],
  },
};

/** Values near the bounds of the fields, valid and not. */
const values = fc.oneof(
  fc.constantFrom<unknown>(null, 0, -1, 1.5, "", "x", [], {}, true, 2 ** 53, 2 ** 53 - 1, "y".repeat(65)),
  fc.constantFrom<unknown>(
    "a".repeat(255),
    "a".repeat(256),
    "z".repeat(128),
    "z".repeat(129),
    100_000,
    100_001,
  ),
  fc.string({ maxLength: 3 }),
  fc.integer({ min: -2, max: 2 }),
  fc.constantFrom("forbidden", "unavailable", "nope", "sub", "msg"),
  fc.record({ epoch: fc.constantFrom<unknown>("e", "", 1), seq: fc.constantFrom<unknown>(0, -1, "1") }),
  fc.record({ last: fc.constantFrom<unknown>(0, 5, -1, 100_001) }),
);
const DELETE = Symbol("delete");
const FIELDS = ["op", "topic", "id", "from", "data", "msgId", "token", "seq", "prev", "ts", "epoch"];
const MORE_FIELDS = [
  "error",
  "recovered",
  "code",
  "message",
  "afterMs",
  "dup",
  "session",
  "heartbeatMs",
  "limits",
];
export const mutations = fc.array(
  fc.tuple(
    fc.constantFrom(...FIELDS, ...MORE_FIELDS, "messages", "extra"),
    fc.oneof(values, fc.constant(DELETE)),
  ),
  { maxLength: 2 },
);

export function mutate(example: unknown, changes: [string, unknown][]): unknown {
  const copy = structuredClone(example);
  const target = (Array.isArray(copy) ? copy[0] : copy) as Record<string, unknown>;
  for (const [field, value] of changes) {
    if (value === DELETE) delete target[field];
    else target[field] = value;
  }
  return copy;
}
