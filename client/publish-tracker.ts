// Publishes in flight. Each keeps its msgId across reconnects, so a `pub` re-sent after a
// disconnect (its ack may have been lost with the connection) is recognised by the edge as a
// duplicate and stored once.
import type { AckFrame, ErrFrame, PubFrame, RequestId } from "./wire.js";
import { HeraldError } from "./errors.js";

/** What `client.publish()` resolves with once the edge stored the message. */
export interface PublishResult {
  /** The message's seq in the topic's history. */
  readonly seq: number;
  /** True when the edge had already stored a message with this msgId (this publish was a retry). */
  readonly dup: boolean;
}

interface Pending {
  frame: PubFrame;
  resolve(result: PublishResult): void;
  reject(error: Error): void;
}

/** A random msgId; getRandomValues works in every browser context (randomUUID needs a secure one). */
export function newMsgId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class PublishTracker {
  readonly #pending = new Map<RequestId, Pending>();

  /** Registers a publish; the returned promise settles on its ack or err. */
  add(frame: PubFrame): Promise<PublishResult> {
    return new Promise((resolve, reject) => this.#pending.set(frame.id, { frame, resolve, reject }));
  }

  /** Every publish not yet acknowledged, in the order they were made: re-sent on each new connection. */
  unacknowledged(): PubFrame[] {
    return [...this.#pending.values()].map((pending) => pending.frame);
  }

  has(id: RequestId): boolean {
    return this.#pending.has(id);
  }

  handleAck(frame: AckFrame): void {
    const pending = this.#pending.get(frame.id);
    if (!pending) return;
    this.#pending.delete(frame.id);
    if (frame.seq === undefined) {
      pending.reject(new HeraldError("protocol", `ack for publish ${String(frame.id)} carries no seq`));
      return;
    }
    pending.resolve({ seq: frame.seq, dup: frame.dup ?? false });
  }

  handleErr(frame: ErrFrame): void {
    if (frame.id === undefined) return;
    const pending = this.#pending.get(frame.id);
    if (!pending) return;
    this.#pending.delete(frame.id);
    pending.reject(
      new HeraldError(frame.code, `publish to ${pending.frame.topic} refused: ${frame.message}`),
    );
  }

  /** The client is closed for good: nothing will be sent any more. */
  rejectAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
