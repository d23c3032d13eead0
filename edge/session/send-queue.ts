// The bounded send path of one connection (docs/design.md#slow-consumers, docs/design.md#batching).
// Frames arrive as the shared, already-encoded strings the hub hands out (no per-subscriber JSON
// work) and are queued as their UTF-8 bytes, encoded once per turn for all sockets. Everything
// pending for a socket leaves as ONE WebSocket text frame joined by "\n",
// flushed once per event-loop turn for all dirty connections together. What is queued plus what
// the socket still buffers is bounded by sendBufferBytes; beyond it the queue reports overflow and
// the owner closes the connection with 4008, so memory stays bounded whatever the client does.
import { BATCH_SEPARATOR } from "../../protocol/index.js";

/** Flushes every connection that queued something during this turn of the event loop, in one go. */
export class FlushScheduler {
  private readonly dirty = new Set<SendQueue>();
  private scheduled = false;
  /** The UTF-8 bytes of each frame queued in this turn, by frame text; cleared by the next pass. */
  private readonly encoded = new Map<string, Buffer>();
  /** The batch joined last in this pass, and its bytes (see join()). */
  private lastBatch: readonly Buffer[] = [];
  private lastJoined: Buffer | undefined;

  /**
   * The bytes of a frame, encoded once per turn. A message broadcast to its topic is one string
   * pushed to every subscriber's queue in the same turn: it is encoded for the first and every
   * other subscriber gets the same buffer for a map lookup (V8 caches a string's hash in the
   * string), so neither measuring it for the send bound nor writing it scans its text again.
   */
  encode(text: string): Buffer {
    let bytes = this.encoded.get(text);
    if (bytes === undefined) {
      bytes = Buffer.from(text);
      this.encoded.set(text, bytes);
      // The pass that clears the map must come, even if no queue gets marked this turn.
      this.schedule();
    }
    return bytes;
  }

  /**
   * Several frames joined into one write. Subscribers in step with a topic queue the very same
   * frames in a turn, and are flushed one after another: they share one joined buffer, so the
   * per-subscriber work of a batch is comparing its references and one write, not a copy.
   */
  join(frames: readonly Buffer[]): Buffer {
    const last = this.lastBatch;
    if (this.lastJoined && last.length === frames.length && frames.every((frame, i) => frame === last[i]))
      return this.lastJoined;
    this.lastBatch = frames;
    this.lastJoined = joinFrames(frames);
    return this.lastJoined;
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
      // The queues hold the buffers they need: the map only shares them within one turn.
      this.encoded.clear();
      const queues = [...this.dirty];
      this.dirty.clear();
      for (const q of queues) q.flush();
      this.lastBatch = [];
      this.lastJoined = undefined;
    });
  }
}

const SEPARATOR = Buffer.from(BATCH_SEPARATOR);

/**
 * Where a send queue writes: what it needs of a ws WebSocket, which satisfies it as it is; other
 * transports (edge/session/transport.ts) take the same calls.
 */
export interface SendTarget {
  /** Bytes handed over and not yet on the network. */
  readonly bufferedAmount: number;
  readonly readyState: number;
  readonly OPEN: number;
  /** One batch: the pending edge frames joined by BATCH_SEPARATOR (a lone frame as it is). */
  send(data: Buffer, options: { binary: false }): void;
}

/** How often a replay waiting for a socket to drain looks again. */
const DRAIN_POLL_MS = 20;

export class SendQueue {
  /** The queued frames, already encoded (shared with every other socket sending the same frame). */
  private frames: Buffer[] = [];
  /** Replays waiting for the socket to take what was queued (see drained()). */
  /** Replays waiting for room (made when one first waits: most connections never do). */
  private drainWaiters: { bytes: number; wake: () => void }[] | undefined;
  private drainPoll: NodeJS.Timeout | undefined;
  /** UTF-8 bytes of the queued frames: what they will add to ws.bufferedAmount once flushed. */
  private queuedBytes = 0;
  private closed = false;

  constructor(
    private readonly ws: SendTarget,
    private readonly limitBytes: number,
    private readonly scheduler: FlushScheduler,
  ) {}

  /** Queues one encoded frame. Returns false, and drops everything queued, when over the bound. */
  push(frame: string): boolean {
    if (this.closed) return true;
    const bytes = this.scheduler.encode(frame);
    if (this.queuedBytes + bytes.length + this.ws.bufferedAmount > this.limitBytes) {
      this.discard();
      return false;
    }
    this.frames.push(bytes);
    this.queuedBytes += bytes.length;
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
    // A lone frame is sent as the shared buffer itself; a batch is joined once for every socket
    // that queued the same frames this turn.
    this.ws.send(frames.length === 1 ? frames[0]! : this.scheduler.join(frames), { binary: false });
  }

  /**
   * Bytes a replay may still queue: replays fill at most half of the bound, so live traffic
   * on the connection's other subscriptions keeps its headroom.
   */
  room(): number {
    return this.limitBytes / 2 - this.pending();
  }

  /** Whether nothing is queued or unsent: a replay may then send one message beyond room(). */
  idle(): boolean {
    return this.pending() === 0;
  }

  /**
   * Resolves once what is queued and unsent has fallen below a quarter of the bound and `bytes`
   * fit in room(), or the connection is idle. A closed connection never drains: a replay waiting
   * for it is dropped with it (its hub subscription is closed with the connection).
   */
  drained(bytes = 0): Promise<void> {
    if (this.closed) return new Promise(() => {});
    if (this.hasDrained(bytes)) return Promise.resolve();
    return new Promise((resolve) => {
      (this.drainWaiters ??= []).push({ bytes, wake: resolve });
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
    this.drainWaiters = undefined;
  }

  private pending(): number {
    return this.queuedBytes + this.ws.bufferedAmount;
  }

  private hasDrained(bytes: number): boolean {
    return this.pending() === 0 || (this.pending() <= this.limitBytes / 4 && this.room() >= bytes);
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters ?? [];
    const ready = waiters.filter((waiter) => this.hasDrained(waiter.bytes));
    if (ready.length === 0) return;
    this.drainWaiters = waiters.filter((waiter) => !ready.includes(waiter));
    if (this.drainWaiters.length === 0) {
      clearInterval(this.drainPoll);
      this.drainPoll = undefined;
    }
    for (const waiter of ready) waiter.wake();
  }
}

/** Frames joined by newlines (docs/design.md#batching) from their encoded bytes, without re-encoding. */
function joinFrames(frames: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const frame of frames) {
    if (parts.length > 0) parts.push(SEPARATOR);
    parts.push(frame);
  }
  return Buffer.concat(parts);
}
