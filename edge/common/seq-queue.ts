// A FIFO of items ordered by strictly increasing `seq`: append at the back, drop from the front,
// binary-search by seq. It backs the hub's per-topic ring buffer and per-subscriber hand-over
// buffer, and the embedded log's per-topic and global queues. Dropping from the front is O(1)
// amortized (a start index with occasional compaction), unlike Array.prototype.shift.

export interface Sequenced {
  readonly seq: number;
}

/** Compact the backing array once this many dropped slots also make up half of it. */
const COMPACT_AFTER = 1024;

export class SeqQueue<T extends Sequenced> {
  // Slots before `start` are dropped items, cleared so that they can be garbage-collected.
  private items: (T | undefined)[] = [];
  private start = 0;

  get length(): number {
    return this.items.length - this.start;
  }

  get first(): T | undefined {
    return this.items[this.start];
  }

  get last(): T | undefined {
    return this.length > 0 ? this.items[this.items.length - 1] : undefined;
  }

  /**
   * Appends `item`; its seq must be greater than the last one's (the caller guarantees order).
   * True: it is in the queue (a budgeted queue may refuse it, see edge/common/memory-budget.ts).
   */
  push(item: T): boolean {
    this.items.push(item);
    return true;
  }

  /**
   * Adds older items at the front; `older` must be in order and end before the current first.
   * Returns how many were added (the newest of them; a budgeted queue may take fewer).
   */
  prepend(older: readonly T[]): number {
    if (older.length === 0) return 0;
    this.items = [...older, ...this.items.slice(this.start)];
    this.start = 0;
    return older.length;
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.start]!;
    this.items[this.start] = undefined;
    this.start++;
    if (this.start >= COMPACT_AFTER && this.start * 2 >= this.items.length) {
      this.items = this.items.slice(this.start);
      this.start = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.start = 0;
  }

  /** Keeps only the items for which `keep` is true (order is preserved). */
  retain(keep: (item: T) => boolean): void {
    this.items = (this.items.slice(this.start) as T[]).filter(keep);
    this.start = 0;
  }

  /** The index (0 = first) of the first item with a seq greater than `seq`; `length` if none. */
  indexAfter(seq: number): number {
    let low = this.start;
    let high = this.items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.items[mid]!.seq <= seq) low = mid + 1;
      else high = mid;
    }
    return low - this.start;
  }

  /** The index of the item with exactly this seq, or -1. */
  indexOf(seq: number): number {
    const index = this.indexAfter(seq) - 1;
    return index >= 0 && this.items[this.start + index]!.seq === seq ? index : -1;
  }

  /** Items from index `from` (inclusive) to `to` (exclusive), as a new array. */
  slice(from: number, to = this.length): T[] {
    return this.items.slice(this.start + Math.max(0, from), this.start + Math.min(to, this.length)) as T[];
  }
}
