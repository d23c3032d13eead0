// Edge → client frames as the SDK reads them: split on newlines (batching), parsed, and checked by
// the validators generated from the protocol's schemas (wire.ts), so no schema library ships with
// the SDK. A frame with an op this SDK does not know is skipped: edges may add optional frames, and
// herald.v1 clients ignore what they do not know (docs/protocol.md "Compatibility"). A known frame
// that is malformed is refused with a clear message: a client must not guess at what it received.
import { BATCH_SEPARATOR, EDGE_FRAME_CHECKS, type EdgeFrame } from "./wire.js";

export function decodeEdgeFrames(text: string): EdgeFrame[] {
  const frames: EdgeFrame[] = [];
  for (const line of text.split(BATCH_SEPARATOR)) {
    if (line.length === 0) continue;
    const frame = decodeEdgeFrame(line);
    if (frame !== undefined) frames.push(frame);
  }
  return frames;
}

/** One edge frame (one line); undefined for an op this SDK does not know. */
export function decodeEdgeFrame(line: string): EdgeFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`herald: edge frame is not valid JSON: ${JSON.stringify(line.slice(0, 64))}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error(`herald: edge frame is not a JSON object: ${JSON.stringify(line.slice(0, 64))}`);
  const op = (value as { op?: unknown }).op;
  if (typeof op !== "string") throw new Error("herald: edge frame without an op");
  if (!Object.hasOwn(EDGE_FRAME_CHECKS, op)) return undefined;
  const problem = EDGE_FRAME_CHECKS[op as EdgeFrame["op"]](value);
  if (problem !== undefined) throw new Error(`herald: malformed ${op} frame: ${problem}`);
  return value as EdgeFrame;
}
