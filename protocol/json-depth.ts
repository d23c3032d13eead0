// Bound on how deeply a message's `data` may nest. JSON.parse copes with any depth, but
// JSON.stringify and every other recursive walk (structured clone, loggers, the SDK) overflow the
// stack a few thousand levels down: a 64 KiB frame of "[[[[…" would otherwise be accepted and throw
// later, far from the client that sent it. Real documents stay far below this.
export const MAX_DATA_DEPTH = 64;

/** Whether `value` nests objects/arrays deeper than `maxDepth` levels. Iterative: never overflows itself. */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== "object" || current === null) continue;
    if (depth + 1 > maxDepth) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}
