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

/** The largest frame header: 2 bytes, an 8-byte length, a 4-byte mask (RFC 6455 §5.2). */
const MAX_HEADER_BYTES = 14;

/**
 * Finds the frame boundaries of a client's byte stream by reading only the frame headers, chunk by
 * chunk (a header may be split across chunks); payloads are skipped, never copied or unmasked.
 */
export class FrameHeaderScanner {
  private readonly header = Buffer.alloc(MAX_HEADER_BYTES);
  /** Header bytes collected so far, and how many this header has (known once 2 are in). */
  private have = 0;
  private need = 2;
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
      this.header[this.have++] = chunk[i++]!;
      if (this.have === 2) {
        const length7 = this.header[1]! & 0x7f;
        this.need = 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (this.header[1]! & 0x80 ? 4 : 0);
      }
      if (this.have < this.need) continue;
      const length7 = this.header[1]! & 0x7f;
      this.skip =
        length7 === 126
          ? this.header.readUInt16BE(2)
          : length7 === 127
            ? Number(this.header.readBigUInt64BE(2))
            : length7;
      this.have = 0;
      this.need = 2;
      if (!frame(this.header[0]! & 0x0f)) return false;
    }
    return true;
  }
}

export interface FrameMeter {
  /** From now on nothing that arrives is parsed or counted (the connection is closing). */
  discard(): void;
}

type Receiver = { write: (chunk: Buffer, ...rest: unknown[]) => boolean };

/**
 * Counts every frame arriving on `ws` with `frame()`, which returns false to refuse it. Returns
 * undefined, changing nothing, when this ws has no receiver to count in front of.
 */
export function meterFrames(ws: WebSocket, frame: () => boolean): FrameMeter | undefined {
  const receiver = (ws as WebSocket & { _receiver?: Receiver })._receiver;
  if (receiver === undefined || typeof receiver.write !== "function") return undefined;
  const scanner = new FrameHeaderScanner();
  const write = receiver.write.bind(receiver);
  let discarding = false;
  receiver.write = (chunk: Buffer, ...rest: unknown[]): boolean => {
    if (discarding) return true;
    if (!scanner.scan(chunk, () => frame())) {
      discarding = true;
      return true;
    }
    return write(chunk, ...rest);
  };
  return { discard: () => void (discarding = true) };
}
