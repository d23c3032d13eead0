// The bounded send path of one connection (DESIGN.md "Slow consumers" and "Batching").
// Frames are queued as the shared, already-encoded strings the hub hands out (no per-subscriber
// JSON work). Everything pending for a socket leaves as ONE WebSocket text frame joined by "\n",
// flushed once per event-loop turn for all dirty connections together. What is queued plus what
// the socket still buffers is bounded by sendBufferBytes; beyond it the queue reports overflow and
// the owner closes the connection with 4008, so memory stays bounded whatever the client does.
import type { WebSocket } from "ws";
import { BATCH_SEPARATOR } from "../../protocol/index.js";

/** Flushes every connection that queued something during this turn of the event loop, in one go. */
export class FlushScheduler {
  private readonly dirty = new Set<SendQueue>();
  private scheduled = false;
  /** UTF-8 bytes of the frames written in the current pass, by frame text. */
  private readonly encoded = new Map<string, Buffer>();
  /** UTF-8 lengths of the frames queued in this turn, by frame text; cleared by the next pass. */
  private readonly lengths = new Map<string, number>();
  private flushing = false;

  /**
   * The UTF-8 length of a frame, which the send bound counts (ws.bufferedAmount is bytes too).
   * A message broadcast to its topic is one string pushed to every subscriber's queue in the same
   * turn: it is measured once, and every other subscriber pays a map lookup (V8 caches a string's
   * hash in the string, and the same string is found by identity), not a scan of its text.
   */
  byteLength(text: string): number {
    let bytes = this.lengths.get(text);
    if (bytes === undefined) {
      bytes = Buffer.byteLength(text);
      this.lengths.set(text, bytes);
      // The pass that clears the map must come, even if no queue gets marked this turn.
      this.schedule();
    }
    return bytes;
  }

  /**
   * The bytes of a frame. Within one pass, every socket that sends the same frame string (a
   * message broadcast to its topic) gets the same buffer: it is encoded once, not per subscriber.
   */
  encode(text: string): Buffer {
    // Outside a pass (a flush before a close) there is nothing to share with.
    if (!this.flushing) return Buffer.from(text);
    let bytes = this.encoded.get(text);
    if (bytes === undefined) {
      bytes = Buffer.from(text);
      this.encoded.set(text, bytes);
    }
    return bytes;
  }

  mark(queue: SendQueue): void {
    this.dirty.add(queue);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.lengths.clear();
      const queues = [...this.dirty];
      this.dirty.clear();
      this.flushing = true;
      try {
        for (const q of queues) q.flush();
      } finally {
        this.flushing = false;
        this.encoded.clear();
      }
    });
  }
}

/** How often a replay waiting for a socket to drain looks again. */
const DRAIN_POLL_MS = 20;

export class SendQueue {
  private frames: string[] = [];
  /** Replays waiting for the socket to take what was queued (see drained()). */
  private drainWaiters: (() => void)[] = [];
  private drainPoll: NodeJS.Timeout | undefined;
  /** UTF-8 bytes of the queued frames: what they will add to ws.bufferedAmount once flushed. */
  private queuedBytes = 0;
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly limitBytes: number,
    private readonly scheduler: FlushScheduler,
  ) {}

  /** Queues one encoded frame. Returns false, and drops everything queued, when over the bound. */
  push(frame: string): boolean {
    if (this.closed) return true;
    const bytes = this.scheduler.byteLength(frame);
    if (this.queuedBytes + bytes + this.ws.bufferedAmount > this.limitBytes) {
      this.discard();
      return false;
    }
    this.frames.push(frame);
    this.queuedBytes += bytes;
    if (this.frames.length === 1) this.scheduler.mark(this);
    return true;
  }

  /** Writes what is pending as one text frame. */
  flush(): void {
    if (this.closed || this.frames.length === 0) return;
    const frames = this.frames;
    this.frames = [];
    this.queuedBytes = 0;
    if (this.ws.readyState !== this.ws.OPEN) return;
    // A lone frame is usually a broadcast shared with other sockets; a batch is this socket's own.
    const bytes = frames.length === 1 ? this.scheduler.encode(frames[0]!) : Buffer.from(frames.join(BATCH_SEPARATOR));
    this.ws.send(bytes, { binary: false });
  }

  /**
   * Bytes a replay may still queue: replays fill at most half of the bound, so live traffic
   * on the connection's other subscriptions keeps its headroom.
   */
  room(): number {
    return this.limitBytes / 2 - this.pending();
  }

  /**
   * Resolves once what is queued and unsent has fallen below a quarter of the bound. A closed
   * connection never drains: a replay waiting for it is dropped with it (its hub subscription is
   * closed with the connection).
   */
  drained(): Promise<void> {
    if (this.closed) return new Promise(() => {});
    if (this.pending() <= this.limitBytes / 4) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWaiters.push(resolve);
      // ws has no drain event of its own; a short poll runs only while a replay waits.
      this.drainPoll ??= setInterval(() => this.wakeDrainWaiters(), DRAIN_POLL_MS);
    });
  }

  /** Drops what is queued and accepts nothing more (the connection is going away). */
  discard(): void {
    this.closed = true;
    this.frames = [];
    this.queuedBytes = 0;
    clearInterval(this.drainPoll);
    this.drainWaiters = [];
  }

  private pending(): number {
    return this.queuedBytes + this.ws.bufferedAmount;
  }

  private wakeDrainWaiters(): void {
    if (this.pending() > this.limitBytes / 4) return;
    clearInterval(this.drainPoll);
    this.drainPoll = undefined;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }
}
