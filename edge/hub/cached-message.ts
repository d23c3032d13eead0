// A message as the hub holds it: the stored message plus its `msg` frame, encoded once and shared
// by every subscriber it is sent to (docs/design.md#why-per-turn-batching).
import { encodeMsgFrame } from "../../protocol/edge-frames.js";
import type { StoredMessage } from "../backend/backend.js";
import type { SeqQueue } from "../common/seq-queue.js";

export interface CachedMessage {
  readonly seq: number;
  readonly prev: number;
  readonly message: StoredMessage;
  readonly frame: string;
  /** The frame's UTF-8 bytes: the unit of the send buffer that paces replays, measured once. */
  readonly bytes: number;
}

export function cacheMessage(message: StoredMessage): CachedMessage {
  const frame = encodeMsgFrame(message.topic, message.seq, message.prev, message.data, message.ts);
  return { seq: message.seq, prev: message.prev, message, frame, bytes: Buffer.byteLength(frame) };
}

/**
 * What a consecutive run of one topic's messages says about the position `after`:
 * the messages that follow it (possibly none), "unknown" when the run does not reach back to it,
 * or "invalid" when it falls inside the run without being one of its seqs (not a real position).
 */
export function messagesAfter(
  run: SeqQueue<CachedMessage>,
  after: number,
): CachedMessage[] | "unknown" | "invalid" {
  const first = run.first;
  const last = run.last;
  if (!first || !last || after < first.prev || after > last.seq) return "unknown";
  if (after === first.prev) return run.slice(0);
  const index = run.indexOf(after);
  return index < 0 ? "invalid" : run.slice(index + 1);
}
