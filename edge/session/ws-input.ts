// Every WebSocket frame a client sends is counted as it arrives, before ws parses it: data frames
// and each of their continuation fragments, pings, pongs and close frames alike (ws itself reports
// whole messages, pings and pongs, and nothing for a fragment). A frame the session refuses (over
// its frame rate) stops the input there: that chunk and everything after it is discarded unparsed,
// as is whatever arrives once the session has closed the connection.
//
// The count sits in front of ws's receiver, a private field of ws's WebSocket (`_receiver`, ws 8, as
// in oversized-frames.ts): its write() is what ws's socket listener feeds every chunk to, the bytes
// that came with the upgrade request included. Pinned by ws-input.test.ts, so an upgrade of ws that
// moves the field fails that test rather than silently counting nothing.
import type { WebSocket } from "ws";

/**
 * Finds the frame boundaries of a client's byte stream by reading only the frame headers, chunk by
 * chunk (a header may be split across chunks); payloads are skipped, never copied or unmasked. The
 * header is decoded as it arrives, into numbers: an edge holds one scanner per connection.
 */
export class FrameHeaderScanner {
  /** Header bytes of the current frame seen so far, and how many it has (known once 2 are in). */
  private have = 0;
  private need = 2;
  private opcode = 0;
  /** Extended payload length bytes this header has (0, 2 or 8), after its first two. */
  private extended = 0;
  /** The payload length, as far as its header has been read. */
  private length = 0;
  /** Payload bytes of the current frame still to skip. */
  private skip = 0;

  /** Calls `frame(opcode)` for each frame header completed in `chunk`; stops (false) when it says no. */
  scan(chunk: Uint8Array, frame: (opcode: number) => boolean): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++]!;
      const at = this.have++;
      if (at === 0) {
        this.opcode = byte & 0x0f;
      } else if (at === 1) {
        const length7 = byte & 0x7f;
        this.extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
        this.length = this.extended === 0 ? length7 : 0;
        // RFC 6455 §5.2: a 4-byte masking key follows the length when the mask bit is set.
        this.need = 2 + this.extended + (byte & 0x80 ? 4 : 0);
      } else if (at < 2 + this.extended) {
        this.length = this.length * 256 + byte;
      }
      if (this.have < this.need) continue;
      this.skip = this.length;
      this.have = 0;
      this.need = 2;
      if (!frame(this.opcode)) return false;
    }
    return true;
  }
}

/** What the meter asks before letting a frame through: false refuses it and all input after it. */
export interface FrameCounter {
  input(): boolean;
}

type Receiver = { write: (chunk: Buffer, ...rest: unknown[]) => boolean };

/** Where a metered receiver keeps its meter (one property instead of a closure per connection). */
const METER = Symbol("herald.frameMeter");
type MeteredReceiver = Receiver & { [METER]: FrameMeter };

/** Stands in for the receiver's write: every chunk passes its meter first. */
function meteredWrite(this: MeteredReceiver, chunk: Buffer, ...rest: unknown[]): boolean {
  return this[METER].write(this, chunk, rest);
}

export class FrameMeter extends FrameHeaderScanner {
  private discarding = false;

  constructor(
    private readonly counter: FrameCounter,
    /** The receiver's own write (its prototype's), called with the receiver as `this`. */
    private readonly passOn: Receiver["write"],
  ) {
    super();
  }

  /** From now on nothing that arrives is parsed or counted (the connection is closing). */
  discard(): void {
    this.discarding = true;
  }

  write(receiver: Receiver, chunk: Buffer, rest: unknown[]): boolean {
    if (this.discarding) return true;
    if (!this.scan(chunk, () => this.counter.input())) {
      this.discarding = true;
      return true;
    }
    return this.passOn.call(receiver, chunk, ...rest);
  }
}

/**
 * Counts every frame arriving on `ws` with `counter.input()`, which returns false to refuse it.
 * Returns undefined, changing nothing, when this ws has no receiver to count in front of.
 */
export function meterFrames(ws: WebSocket, counter: FrameCounter): FrameMeter | undefined {
  const receiver = (ws as WebSocket & { _receiver?: Receiver })._receiver;
  if (receiver === undefined || typeof receiver.write !== "function") return undefined;
  const meter = new FrameMeter(counter, receiver.write);
  (receiver as MeteredReceiver)[METER] = meter;
  receiver.write = meteredWrite;
  return meter;
}
