// Checks a message's `data` once it is parsed, in one iterative walk: how deeply it nests, and
// whether every number survived parsing (beyond the double range, or changed: json-numbers.ts).
//
// Depth: JSON.parse copes with any depth, but JSON.stringify and every other recursive walk
// (structured clone, loggers, the SDK) overflow the stack a few thousand levels down: a 64 KiB
// frame of "[[[[…" would otherwise be accepted and throw later, far from the client that sent it.
// Real documents stay far below this.
import { InexactNumber } from "./json-numbers.js";

export const MAX_DATA_DEPTH = 64;

/**
 * Why `value` (parsed JSON) cannot be stored as it is, or undefined when it can: nesting deeper than
 * `maxDepth` levels, a number beyond the double range (JSON.parse turns 1e400 into Infinity,
 * which JSON.stringify would silently store as null), or one that parsing changed (an InexactNumber
 * left by parseMarkingInexact). Iterative: never overflows itself.
 */
export function jsonDataProblem(value: unknown, maxDepth: number): string | undefined {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current === "number" && !Number.isFinite(current)) {
      return "holds a number beyond the range of a double (about ±1.8e308)";
    }
    // Marked by parseMarkingInexact (json-numbers.ts): parsing would have changed its value.
    if (current instanceof InexactNumber) return current.describe();
    if (typeof current !== "object" || current === null) continue;
    if (depth + 1 > maxDepth) return `nests deeper than ${maxDepth} levels`;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return undefined;
}
