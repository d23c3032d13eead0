// Edge → client frames on the wire: encoding on the edge, decoding in the client SDK.
// Decoding uses TypeBox's interpreter (no code generation), so the browser bundle stays CSP-safe.
import { Value } from "@sinclair/typebox/value";
import { EDGE_FRAMES, type EdgeFrame, type EdgeOp } from "./frames.js";

/**
 * The `msg` frame as text, built around `dataJson` (the message's data, already JSON text) without
 * parsing or re-serializing it: the edge encodes each message once and shares the string with every
 * subscriber (docs/design.md#why-per-turn-batching).
 */
export function encodeMsgFrame(
  topic: string,
  seq: number,
  prev: number,
  dataJson: string,
  ts: number,
): string {
  return `{"op":"msg","topic":${JSON.stringify(topic)},"seq":${seq},"prev":${prev},"data":${dataJson},"ts":${ts}}`;
}

/** Any other edge frame as text. */
export function encodeEdgeFrame(frame: EdgeFrame): string {
  return JSON.stringify(frame);
}

/** Several pending frames for one socket become one WebSocket text frame, newline-separated. */
export const BATCH_SEPARATOR = "\n";

/**
 * Splits one received WebSocket text frame into edge frames. Throws with a clear message on a line
 * that is not a valid herald.v1 edge frame: a client must not guess at what it received.
 */
export function decodeEdgeFrames(text: string): EdgeFrame[] {
  const frames: EdgeFrame[] = [];
  for (const line of text.split(BATCH_SEPARATOR)) {
    if (line.length === 0) continue;
    const value = parseLine(line);
    const op = (value as { op?: unknown } | null)?.op;
    if (typeof op !== "string" || !Object.hasOwn(EDGE_FRAMES, op)) {
      throw new Error(`herald: unknown edge frame op ${JSON.stringify(op)}`);
    }
    const schema = EDGE_FRAMES[op as EdgeOp];
    if (!Value.Check(schema, value)) {
      const first = Value.Errors(schema, value).First();
      throw new Error(`herald: malformed ${op} frame: ${first?.path ?? ""} ${first?.message ?? ""}`.trim());
    }
    frames.push(value as EdgeFrame);
  }
  return frames;
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`herald: edge frame is not valid JSON: ${JSON.stringify(line.slice(0, 64))}`);
  }
}
