// Every herald.v1 frame, defined once as a TypeBox schema: the TypeScript types are derived from
// the schemas, and the runtime validators (validate.ts) are compiled from the same schemas.
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { MAX_TOPIC_BYTES } from "./topic.js";
import { MAX_MSG_ID_LENGTH, MSG_ID_PATTERN } from "./msg-id.js";
import { ERROR_CODES } from "./codes.js";

/** A request id chosen by the client and echoed in the reply. */
// Integers are bounded to the safe range: beyond it, n + 1 === n and positions stop being exact.
export const RequestId = Type.Union([
  Type.String({ minLength: 1, maxLength: 64 }),
  Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
]);
export type RequestId = Static<typeof RequestId>;

// The shape check only bounds the length; topicProblem() gives the precise, human reason.
export const Topic = Type.String({ minLength: 1, maxLength: MAX_TOPIC_BYTES });
export const Epoch = Type.String({ minLength: 1, maxLength: 128 });
export const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
/** Any JSON value. */
export const Data = Type.Unknown();
/** See msg-id.ts: 1–128 printable ASCII characters, space excluded. */
export const MsgId = Type.String({ minLength: 1, maxLength: MAX_MSG_ID_LENGTH, pattern: MSG_ID_PATTERN });

const strict = { additionalProperties: false } as const;
const optionalId = { id: Type.Optional(RequestId) };

/** Where a subscription starts: resume after a position, or the last K retained messages. */
export const FromPosition = Type.Object({ epoch: Epoch, seq: Seq }, strict);
export const FromLast = Type.Object({ last: Type.Integer({ minimum: 0, maximum: 100_000 }) }, strict);
export const From = Type.Union([FromPosition, FromLast]);
export type FromPosition = Static<typeof FromPosition>;
export type FromLast = Static<typeof FromLast>;
export type From = Static<typeof From>;

// ---- client → edge ----
export const SubFrame = Type.Object(
  { op: Type.Literal("sub"), topic: Topic, ...optionalId, from: Type.Optional(From) },
  strict,
);
export const UnsubFrame = Type.Object({ op: Type.Literal("unsub"), topic: Topic, ...optionalId }, strict);
export const PubFrame = Type.Object(
  { op: Type.Literal("pub"), topic: Topic, data: Data, id: RequestId, msgId: Type.Optional(MsgId) },
  strict,
);
export const AuthFrame = Type.Object(
  { op: Type.Literal("auth"), token: Type.String({ minLength: 1 }), ...optionalId },
  strict,
);
export const PingFrame = Type.Object({ op: Type.Literal("ping"), ...optionalId }, strict);

/** Client frames by op: the validator picks the schema by `op` so errors name the right fields. */
export const CLIENT_FRAMES = {
  sub: SubFrame,
  unsub: UnsubFrame,
  pub: PubFrame,
  auth: AuthFrame,
  ping: PingFrame,
} as const;
export type ClientOp = keyof typeof CLIENT_FRAMES;
export type SubFrame = Static<typeof SubFrame>;
export type UnsubFrame = Static<typeof UnsubFrame>;
export type PubFrame = Static<typeof PubFrame>;
export type AuthFrame = Static<typeof AuthFrame>;
export type PingFrame = Static<typeof PingFrame>;
export type ClientFrame = SubFrame | UnsubFrame | PubFrame | AuthFrame | PingFrame;

// ---- edge → client ----
export const Limits = Type.Object({
  maxFrameBytes: Type.Integer(),
  maxSubscriptions: Type.Integer(),
  sendBufferBytes: Type.Integer(),
  framesPerSecond: Type.Integer(),
  publishesPerSecond: Type.Integer(),
});
export type Limits = Static<typeof Limits>;

export const WelcomeFrame = Type.Object({
  op: Type.Literal("welcome"),
  session: Type.String(),
  heartbeatMs: Type.Integer(),
  limits: Limits,
});
export const SubOkFrame = Type.Object({
  op: Type.Literal("subok"),
  ...optionalId,
  topic: Topic,
  epoch: Epoch,
  seq: Seq,
  recovered: Type.Boolean(),
});
export const MsgFrame = Type.Object({
  op: Type.Literal("msg"),
  topic: Topic,
  seq: Seq,
  prev: Seq,
  data: Data,
  ts: Type.Integer(),
});
export const AckFrame = Type.Object({
  op: Type.Literal("ack"),
  id: RequestId,
  seq: Type.Optional(Seq),
  dup: Type.Optional(Type.Boolean()),
});
export const ErrorCodeSchema = Type.Union(ERROR_CODES.map((code) => Type.Literal(code)));
export const ErrFrame = Type.Object({
  op: Type.Literal("err"),
  ...optionalId,
  code: ErrorCodeSchema,
  message: Type.String(),
});
export const ReconnectFrame = Type.Object({
  op: Type.Literal("reconnect"),
  afterMs: Type.Integer({ minimum: 0 }),
});

export const EDGE_FRAMES = {
  welcome: WelcomeFrame,
  subok: SubOkFrame,
  msg: MsgFrame,
  ack: AckFrame,
  err: ErrFrame,
  reconnect: ReconnectFrame,
} as const;
export type EdgeOp = keyof typeof EDGE_FRAMES;
export type WelcomeFrame = Static<typeof WelcomeFrame>;
export type SubOkFrame = Static<typeof SubOkFrame>;
export type MsgFrame = Static<typeof MsgFrame>;
export type AckFrame = Static<typeof AckFrame>;
export type ErrFrame = Static<typeof ErrFrame>;
export type ReconnectFrame = Static<typeof ReconnectFrame>;
export type EdgeFrame = WelcomeFrame | SubOkFrame | MsgFrame | AckFrame | ErrFrame | ReconnectFrame;

// ---- HTTP API ----
export const PublishItem = Type.Object({ topic: Topic, data: Data, msgId: Type.Optional(MsgId) }, strict);
export const PublishBody = Type.Union([
  PublishItem,
  Type.Array(PublishItem, { minItems: 1, maxItems: 1000 }),
]);
export const PublishResult = Type.Object({ seq: Seq, dup: Type.Boolean() });
export const HistoryMessage = Type.Object({ seq: Seq, prev: Seq, data: Data, ts: Type.Integer() });
export const HistoryResponse = Type.Object({
  topic: Topic,
  epoch: Epoch,
  /**
   * false when `after` is older than retention or not a seq of the topic (messages then start at the
   * oldest retained one), or beyond the head (no messages).
   */
  recovered: Type.Boolean(),
  messages: Type.Array(HistoryMessage),
});
export const ErrorBody = Type.Object({
  error: Type.Object({ code: ErrorCodeSchema, message: Type.String() }),
});
// ---- Server-Sent Events (GET /v1/sse, protocol/sse.ts) ----
/** Data of the `close` event the edge sends before it ends a stream: the WebSocket close code and reason. */
export const SseClose = Type.Object({
  code: Type.Integer({ minimum: 1000, maximum: 4999 }),
  reason: Type.String(),
});
export type SseClose = Static<typeof SseClose>;

export type PublishItem = Static<typeof PublishItem>;
export type PublishBody = Static<typeof PublishBody>;
export type PublishResult = Static<typeof PublishResult>;
export type HistoryMessage = Static<typeof HistoryMessage>;
export type HistoryResponse = Static<typeof HistoryResponse>;
export type ErrorBody = Static<typeof ErrorBody>;

export type { TSchema };
