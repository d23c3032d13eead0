// The contract between the edge and the durable log. Two implementations: the embedded in-memory
// log (no NATS configured) and NATS JetStream. Both keep these semantics exactly
// (docs/design.md#backend-contract):
//   seq   strictly increasing per topic (not contiguous),
//   prev  the seq of the previous message on the same topic (0 for the first),
//   epoch the identity of the log's history; a re-created log has a new epoch.
// Everything above this interface (hub, ring buffers, resume, sessions) is backend-agnostic.

/** One stored message. `data` is the message's JSON text, serialized once at publish time. */
export interface StoredMessage {
  readonly topic: string;
  readonly seq: number;
  readonly prev: number;
  /** When it was stored, ms since the Unix epoch. */
  readonly ts: number;
  readonly data: string;
}

export interface PublishInput {
  readonly topic: string;
  /** The data as JSON text. */
  readonly data: string;
  /** Dedupe key, scoped to the topic: a repeat on the same topic within the duplicate window is not stored again. */
  readonly msgId?: string;
}

export interface PublishOutcome {
  readonly seq: number;
  /** true when msgId matched an earlier message; `seq` is then that message's seq. */
  readonly dup: boolean;
}

/**
 * `after`: the messages that follow a position. When the position cannot be recovered (older than
 * retention, not a seq of the topic) there are none, unless `orOldest` asks for the oldest retained
 * ones instead (HTTP history); a position beyond the head never gets any: a read is bounded by what
 * it can deliver. `last`: the last K retained messages.
 */
export type ReadFrom = { readonly after: number; readonly orOldest?: boolean } | { readonly last: number };

export interface ReadResult {
  readonly epoch: string;
  /**
   * Consecutive messages of the topic in order; messages[0].prev is the asked `after` when
   * `recovered`. At most `limit` of them: when `messages.length === limit` there may be more.
   */
  readonly messages: StoredMessage[];
  /**
   * false when `after` is older than retention (something after it was already removed), not a
   * seq of the topic, or beyond its head: no messages then (with `orOldest`: from the oldest
   * retained one, unless beyond the head). Must never be true when anything was lost.
   */
  readonly recovered: boolean;
  /** The topic's last seq when the read was served (0 for an empty topic). */
  readonly head: number;
}

export interface LiveHandlers {
  /** Each new message, exactly once, in order, with an unbroken prev chain starting at `head`. */
  message(message: StoredMessage): void;
  /**
   * The chain cannot continue (the log was re-created, or a gap could not be repaired because
   * retention already removed the missing messages). Delivery restarts at `head` of `epoch`.
   */
  reset(info: { epoch: string; head: number }): void;
}

export interface LiveFeed {
  /** The topic's last seq when the feed started: the first message delivered has prev === head. */
  readonly head: number;
  readonly epoch: string;
  close(): void;
}

export type BackendState = "connecting" | "ready" | "unavailable" | "closed";

export interface BackendStatus {
  readonly state: BackendState;
  /** A sentence for /readyz and logs. */
  readonly detail: string;
}

export class BackendUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds = 1,
  ) {
    super(message);
    this.name = "BackendUnavailableError";
  }
}

export interface Backend {
  readonly kind: "embedded" | "jetstream";
  /**
   * Connect and make sure the log exists. Throws with a clear message on a definite refusal (an
   * incompatible stream); a log that cannot be reached yet leaves status() unready and is retried
   * in the background until it is.
   */
  start(): Promise<void>;
  close(): Promise<void>;
  status(): BackendStatus;
  /** Called whenever status() changes. */
  onStatus(listener: (status: BackendStatus) => void): () => void;
  epoch(): string;
  /**
   * The epoch, confirmed with the log after this call (feeds restart first when it changed). Asked
   * before a resume that names an epoch this edge does not hold is refused: the client may come from
   * an edge that saw a re-created log first (docs/design.md#why-the-epoch-is-confirmed-before-delivery).
   */
  confirmedEpoch(): Promise<string>;
  /** Resolves only once the message is durably stored. Throws BackendUnavailableError when it cannot be. */
  publish(input: PublishInput): Promise<PublishOutcome>;
  read(topic: string, from: ReadFrom, limit: number): Promise<ReadResult>;
  /** Live messages of one topic. The edge holds at most one feed per topic (interest-based). */
  live(topic: string, handlers: LiveHandlers): Promise<LiveFeed>;
}
