// What the stream's leader holds at the end of one topic, read to settle a publish whose outcome
// is unknown (stream-writer.ts "Unknown outcomes"). Leader reads (STREAM.MSG.GET, STREAM.INFO), not
// direct gets: a follower may not have applied the newest messages yet.
import type { JetStreamManager, MsgRequest, NextMsgRequest, StoredMsg } from "@nats-io/jetstream";
import { MSG_ID_HEADER, PREV_HEADER, PUBLISH_ID_HEADER } from "./codec.js";

/** One stored message of the topic, as far as settling a publish needs it. */
export interface TailMessage {
  readonly seq: number;
  readonly prev: number | undefined;
  readonly publishId: string | undefined;
  readonly msgId: string | undefined;
}

export interface StreamTail {
  /** The stream's last seq, read before and after the topic's messages and the same both times. */
  readonly streamLast: number;
  /** The topic's last seq at that stream seq (0 when it has none retained). */
  readonly head: number;
  /** The topic's retained messages with floor < seq <= head, oldest first: all of them. */
  readonly messages: readonly TailMessage[];
}

/**
 * Messages read forward from the floor, at most. The read must be complete (a msgId searched for
 * may be anywhere after the floor), so a longer run fails as unavailable and the caller retries.
 */
const MAX_WALK = 4096;
/** Reads of a stream that keeps moving are repeated this often before giving up (the caller retries later). */
const MAX_TRIES = 5;

export async function readTail(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  floor: number,
  /**
   * Whether the stream's last seq must be the same before and after (a resend pinned to it);
   * a replicated stream's slots do without (stream-writer.ts "Replicated streams").
   */
  stable = true,
): Promise<StreamTail> {
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const before = (await jsm.streams.info(stream)).state.last_seq;
    const last = await jsm.streams.getMessage(stream, { last_by_subj: subject });
    const head = last?.seq ?? 0;
    // Forward from the floor, not back along Herald-Prev: a wrong prev stored by another writer
    // must not hide the message looked for.
    const messages: TailMessage[] = [];
    for (let cursor = floor; cursor < head;) {
      if (messages.length >= MAX_WALK)
        throw new Error(`${subject} holds more than ${MAX_WALK} messages after seq ${floor} to search`);
      const next: NextMsgRequest = { seq: cursor + 1, next_by_subj: subject };
      // STREAM.MSG.GET takes next_by_subj on 2.9.10 (the client's type lists it for direct gets only).
      const msg = await jsm.streams.getMessage(stream, next as unknown as MsgRequest);
      if (!msg || msg.seq > head) break;
      messages.push(tailMessage(msg));
      cursor = msg.seq;
    }
    const after = (await jsm.streams.info(stream)).state.last_seq;
    // The same last seq before and after, and the topic's head at or below it: (streamLast, head)
    // describe one state of the stream, so a publish pinned to both is stored only right after it.
    if ((before === after || !stable) && head <= after) return { streamLast: after, head, messages };
  }
  throw new Error(`the stream ${stream} kept moving while ${subject}'s last messages were read`);
}

function tailMessage(msg: StoredMsg): TailMessage {
  const prev = msg.header.get(PREV_HEADER);
  return {
    seq: msg.seq,
    prev: /^\d+$/.test(prev) ? Number(prev) : undefined,
    publishId: msg.header.get(PUBLISH_ID_HEADER) || undefined,
    msgId: msg.header.get(MSG_ID_HEADER) || msg.header.get("Nats-Msg-Id") || undefined,
  };
}
