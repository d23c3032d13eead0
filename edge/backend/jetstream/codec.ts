// How Herald messages look in JetStream: the body is the message's JSON text; headers carry what
// the stored copy cannot know by itself (see stream-writer.ts for why `Herald-Prev` exists).
import type { Msg, MsgHdrs } from "@nats-io/nats-core";
import type { JsMsg, StoredMsg } from "@nats-io/jetstream";
import type { StoredMessage } from "../backend.js";

/** The seq of the previous message of the same topic, written by the publishing edge. */
export const PREV_HEADER = "Herald-Prev";
/** When the edge published it (ms since the Unix epoch); the same on the stored and the live copy. */
export const TS_HEADER = "Herald-Ts";
/** msgIdHeader(topic, msgId) of a message published with a msgId (on replicated streams the Nats-Msg-Id is its slot). */
export const MSG_ID_HEADER = "Herald-Msg-Id";
/** A per-attempt id of the publishing edge: how it finds out whether a publish it lost track of was stored. */
export const PUBLISH_ID_HEADER = "Herald-Publish-Id";

const decoder = new TextDecoder();

function integerHeader(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * A message read back from the stream. `prev` is undefined only for a message that was not
 * published by Herald (no Herald-Prev header): callers then cannot prove the chain through it.
 */
export interface ReadMessage extends Omit<StoredMessage, "prev"> {
  readonly prev: number | undefined;
}

/** A stored message as direct get or a consumer returns it. */
export interface StoredParts {
  readonly seq: number;
  readonly headers: MsgHdrs | undefined;
  readonly data: Uint8Array;
  /** When JetStream stored it, ms since the Unix epoch. */
  readonly storedMs: number;
}

export function fromStored(topic: string, msg: StoredParts): ReadMessage {
  return {
    topic,
    seq: msg.seq,
    prev: integerHeader(msg.headers?.get(PREV_HEADER) || undefined),
    ts: integerHeader(msg.headers?.get(TS_HEADER) || undefined) ?? msg.storedMs,
    data: decoder.decode(msg.data),
  };
}

export const fromDirectGet = (topic: string, msg: StoredMsg) =>
  fromStored(topic, { seq: msg.seq, headers: msg.header, data: msg.data, storedMs: msg.time.getTime() });

export const fromConsumer = (topic: string, msg: JsMsg) =>
  fromStored(topic, {
    seq: msg.seq,
    headers: msg.headers,
    data: msg.data,
    storedMs: Math.floor(msg.info.timestampNanos / 1e6),
  });

/**
 * A message JetStream republished on `<prefix>.live.<topic>`. RePublish adds `Nats-Sequence` (its
 * stream seq) and `Nats-Last-Sequence` (on nats-server 2.9.10: the previous seq of the same
 * SUBJECT, 0 for the first — verified by jetstream-backend.test.ts). Returns undefined for a
 * message without them (not a republished copy).
 */
export function fromLive(topic: string, msg: Msg): StoredMessage | undefined {
  const seq = integerHeader(msg.headers?.get("Nats-Sequence") || undefined);
  const prev = integerHeader(msg.headers?.get("Nats-Last-Sequence") || undefined);
  if (seq === undefined || prev === undefined) return undefined;
  return {
    topic,
    seq,
    prev,
    ts: integerHeader(msg.headers?.get(TS_HEADER) || undefined) ?? Date.now(),
    data: decoder.decode(msg.data),
  };
}
