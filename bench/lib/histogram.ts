// Latency histogram with bounded memory whatever the message count: 0.1 ms buckets up to 10 s,
// then 10 ms buckets up to 120 s (a saturated server can fall far behind), the last bucket open.
const FINE_MS = 0.1;
const FINE = 100_000;
const COARSE_MS = 10;
const COARSE = 11_000;

export class Histogram {
  readonly counts = new Uint32Array(FINE + COARSE);
  total = 0;

  add(ms: number): void {
    const fine = Math.floor(ms / FINE_MS);
    const bucket =
      fine < FINE
        ? Math.max(0, fine)
        : Math.min(FINE + COARSE - 1, FINE + Math.floor((ms - 10_000) / COARSE_MS));
    this.counts[bucket]!++;
    this.total++;
  }

  /** [bucket, count] pairs of the non-empty buckets: a small IPC message. */
  sparse(): [number, number][] {
    const pairs: [number, number][] = [];
    this.counts.forEach((count, bucket) => {
      if (count > 0) pairs.push([bucket, count]);
    });
    return pairs;
  }

  merge(pairs: readonly [number, number][]): void {
    for (const [bucket, count] of pairs) {
      this.counts[bucket]! += count;
      this.total += count;
    }
  }

  clear(): void {
    this.counts.fill(0);
    this.total = 0;
  }

  /** The upper edge of the bucket holding the p-th quantile, in ms (NaN when empty). */
  quantile(p: number): number {
    let seen = 0;
    for (let bucket = 0; bucket < this.counts.length; bucket++) {
      seen += this.counts[bucket]!;
      if (seen > 0 && seen >= this.total * p) {
        return bucket < FINE ? (bucket + 1) * FINE_MS : 10_000 + (bucket - FINE + 1) * COARSE_MS;
      }
    }
    return Number.NaN;
  }
}
