// One byte budget per edge (HERALD_MEMORY_BUDGET_BYTES) for everything clients can make it hold
// beyond a connection's own send buffer: the per-topic rings and the subscriptions' hand-over
// buffers (messages held for resumes), replay pages and HTTP history pages read from the log, live
// messages queued behind a repair, and frames held before a connection's first auth frame is
// answered. See docs/security.md "Memory".
//
// What can be dropped is dropped under pressure: the rings and hand-over buffers register as caches
// and lose their oldest messages, the largest cache first (safe, the log still has every message:
// a resume that needed them reads it). What cannot be dropped is refused or waits: a frame held
// before auth closes its connection (4009), a history request is answered 503, a replay read waits
// for room. A message is counted once however many caches hold it (a ring and the hand-over buffers
// of one topic share the same objects).
import { SeqQueue, type Sequenced } from "./seq-queue.js";

export const MEMORY_USES = ["ring", "handover", "replay", "history", "feed", "held"] as const;
export type MemoryUse = (typeof MEMORY_USES)[number];

export interface Evictable {
  /** What evict() could free, as this cache counts it: the largest cache is asked first. */
  evictableBytes(): number;
  /** Drops the cache's oldest entries until about `bytes` were freed, or it holds nothing more. */
  evict(bytes: number): void;
}

/** What a V8 string of this length and UTF-8 size takes: 1 byte a character when all ASCII, else 2. */
export function stringBytes(length: number, utf8Bytes: number): number {
  return utf8Bytes === length ? length : 2 * length;
}

/** Beyond the bytes of its strings, what one held message costs (objects, array slots). */
export const MESSAGE_OVERHEAD_BYTES = 256;

export class MemoryBudget {
  private total = 0;
  private readonly byUse = Object.fromEntries(MEMORY_USES.map((use) => [use, 0])) as Record<
    MemoryUse,
    number
  >;
  private readonly caches = new Set<Evictable>();
  private waiters: (() => void)[] = [];
  private evicting = false;
  /** Bytes dropped from caches to make room, since the edge started. */
  evictedBytes = 0;

  private readonly observe: (use: MemoryUse, bytes: number) => void;
  private readonly evicted: (bytes: number) => void;

  /**
   * @param limit the budget, in bytes
   * @param hooks `observe` is told every use's new total after each change, `evicted` how many bytes
   *   each eviction freed (the metrics)
   */
  constructor(
    readonly limit: number,
    hooks: { observe?: (use: MemoryUse, bytes: number) => void; evicted?: (bytes: number) => void } = {},
  ) {
    this.observe = hooks.observe ?? (() => undefined);
    this.evicted = hooks.evicted ?? (() => undefined);
    for (const use of MEMORY_USES) this.observe(use, 0);
  }

  /** An unbounded budget, for components used without an edge (unit tests, tools). */
  static unbounded(): MemoryBudget {
    return new MemoryBudget(Number.MAX_SAFE_INTEGER);
  }

  get used(): number {
    return this.total;
  }

  usedBy(use: MemoryUse): number {
    return this.byUse[use];
  }

  /** Whether anything more fits (after what the caches could give up). */
  hasRoom(bytes = 1): boolean {
    return this.fits(bytes);
  }

  /** Takes `bytes` for `use` when they fit, evicting caches if need be; false, taking nothing, when not. */
  tryTake(use: MemoryUse, bytes: number): boolean {
    if (!this.fits(bytes)) return false;
    this.add(use, bytes);
    return true;
  }

  /** Takes `bytes` for `use` only when they fit without evicting anything. */
  tryTakeSpare(use: MemoryUse, bytes: number): boolean {
    if (this.total + bytes > this.limit) return false;
    this.add(use, bytes);
    return true;
  }

  /**
   * Takes `bytes` that are already in memory and must be held (a page the log answered): caches are
   * evicted to make room, but this never refuses. Reads wait for room() before they start.
   */
  take(use: MemoryUse, bytes: number): void {
    this.fits(bytes);
    this.add(use, bytes);
  }

  give(use: MemoryUse, bytes: number): void {
    if (bytes === 0) return;
    this.add(use, -bytes);
    if (this.waiters.length > 0 && this.total < this.limit) this.wake();
  }

  /** Counts held bytes under another use (a message that only a hand-over buffer still holds). */
  move(from: MemoryUse, to: MemoryUse, bytes: number): void {
    if (from === to || bytes === 0) return;
    this.byUse[from] -= bytes;
    this.byUse[to] += bytes;
    this.observe(from, this.byUse[from]);
    this.observe(to, this.byUse[to]);
  }

  /** Resolves once the budget has room again (at once when it has). */
  room(): Promise<void> {
    if (this.fits(1)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** A cache that gives up its oldest entries under pressure; the returned function unregisters it. */
  register(cache: Evictable): () => void {
    this.caches.add(cache);
    return () => this.caches.delete(cache);
  }

  /** Bytes of `use` counted together and handed back together: one page, one held frame. */
  hold(use: MemoryUse, bytes: number): Hold {
    return new Hold(this, use, bytes);
  }

  private add(use: MemoryUse, bytes: number): void {
    this.total += bytes;
    this.byUse[use] += bytes;
    this.observe(use, this.byUse[use]);
  }

  private fits(bytes: number): boolean {
    const over = this.total + bytes - this.limit;
    if (over > 0) this.evict(over);
    return this.total + bytes <= this.limit;
  }

  /**
   * Frees at least `needed` bytes from the caches, largest first. It frees a little more (a 64th of
   * the budget) so that a full budget is not scanned again for every message that arrives.
   */
  private evict(needed: number): void {
    // Evicting frees; nothing it does needs room, so a nested call has nothing to add.
    if (this.evicting) return;
    this.evicting = true;
    try {
      const target = this.total - needed - Math.floor(this.limit / 64);
      const spent = new Set<Evictable>();
      while (this.total > target) {
        let largest: Evictable | undefined;
        let largestBytes = 0;
        for (const cache of this.caches) {
          if (spent.has(cache)) continue;
          const bytes = cache.evictableBytes();
          if (bytes > largestBytes) {
            largest = cache;
            largestBytes = bytes;
          }
        }
        if (largest === undefined) return;
        const before = this.total;
        largest.evict(this.total - target);
        const freed = Math.max(0, before - this.total);
        this.evictedBytes += freed;
        if (freed > 0) this.evicted(freed);
        // A cache whose messages others still hold frees nothing by itself: try the next one.
        if (this.total >= before || largest.evictableBytes() === 0) spent.add(largest);
      }
    } finally {
      this.evicting = false;
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Bytes counted once and given back once, however many times release() is called. */
export class Hold {
  private released = false;

  constructor(
    private readonly budget: MemoryBudget,
    readonly use: MemoryUse,
    readonly bytes: number,
  ) {
    budget.take(use, bytes);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.give(this.use, this.bytes);
  }
}

/** A hold shared by several users (one page read for many resumes): counted while any uses it. */
export class SharedHold {
  private users = 0;
  private hold: Hold | undefined;

  constructor(
    private readonly budget: MemoryBudget,
    private readonly use: MemoryUse,
    readonly bytes: number,
  ) {}

  /** Counts one more user; returns that user's release (which does something once only). */
  acquire(): () => void {
    if (this.users++ === 0) this.hold = this.budget.hold(this.use, this.bytes);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.users === 0) {
        this.hold?.release();
        this.hold = undefined;
      }
    };
  }
}

interface HeldItem {
  bytes: number;
  /** How many queues of each kind hold the item. */
  rings: number;
  handovers: number;
  /** The use its bytes are counted under (rings first), or undefined while none holds it. */
  counted: MemoryUse | undefined;
}

/**
 * The bookkeeping shared by every budgeted queue of one edge: how many queues hold each item, so that
 * an item held by a ring and by ten hand-over buffers is counted once, for as long as any holds it.
 */
export class HeldItems<T extends object> {
  private readonly items = new WeakMap<T, HeldItem>();

  constructor(
    readonly budget: MemoryBudget,
    /** The memory one item takes (its strings, objects and slots). */
    private readonly sizeOf: (item: T) => number,
  ) {}

  /**
   * Adds a holder of `kind`; false (nothing changed) when the item is new and does not fit, after
   * evicting caches when `evict` (else only in what the budget has spare).
   */
  hold(item: T, kind: "ring" | "handover", evict = true): boolean {
    let held = this.items.get(item);
    if (held === undefined) {
      const bytes = this.sizeOf(item);
      if (!(evict ? this.budget.tryTake(kind, bytes) : this.budget.tryTakeSpare(kind, bytes))) return false;
      held = { bytes, rings: 0, handovers: 0, counted: kind };
      this.items.set(item, held);
    }
    if (kind === "ring") held.rings++;
    else held.handovers++;
    this.recount(held);
    return true;
  }

  /** Removes a holder of `kind`; the last one gives the item's bytes back. */
  drop(item: T, kind: "ring" | "handover"): void {
    const held = this.items.get(item);
    if (held === undefined) return;
    if (kind === "ring") held.rings = Math.max(0, held.rings - 1);
    else held.handovers = Math.max(0, held.handovers - 1);
    if (held.rings === 0 && held.handovers === 0) {
      this.items.delete(item);
      if (held.counted) this.budget.give(held.counted, held.bytes);
      return;
    }
    this.recount(held);
  }

  /** The bytes counted for `item`, or 0 when no queue holds it. */
  bytesOf(item: T): number {
    return this.items.get(item)?.bytes ?? 0;
  }

  private recount(held: HeldItem): void {
    const use: MemoryUse = held.rings > 0 ? "ring" : "handover";
    if (held.counted !== undefined && held.counted !== use) this.budget.move(held.counted, use, held.bytes);
    held.counted = use;
  }
}

/**
 * A SeqQueue whose items count against the budget while it holds them. push() returns false, and
 * holds nothing, when the item does not fit even after evicting caches: the owner then keeps a run
 * it can trust (a ring or hand-over buffer must stay consecutive, so it clears itself).
 */
export class BudgetedQueue<T extends Sequenced & object> extends SeqQueue<T> {
  /** The bytes of the items this queue holds, whoever else holds them too. */
  heldBytes = 0;

  constructor(
    private readonly held: HeldItems<T>,
    private readonly kind: "ring" | "handover",
  ) {
    super();
  }

  override push(item: T): boolean {
    if (!this.held.hold(item, this.kind)) return false;
    this.heldBytes += this.held.bytesOf(item);
    super.push(item);
    return true;
  }

  /**
   * Adds older items at the front, as many of the newest of them as fit in what the budget has
   * spare: making room would evict this queue's own oldest items, and the older ones could not
   * join it then. Returns how many were added.
   */
  override prepend(older: readonly T[]): number {
    let fit = older.length;
    for (let i = older.length - 1; i >= 0; i--) {
      if (!this.held.hold(older[i]!, this.kind, false)) {
        fit = older.length - 1 - i;
        break;
      }
      this.heldBytes += this.held.bytesOf(older[i]!);
    }
    super.prepend(older.slice(older.length - fit));
    return fit;
  }

  override shift(): T | undefined {
    const item = super.shift();
    if (item !== undefined) this.release(item);
    return item;
  }

  override clear(): void {
    for (const item of this.slice(0)) this.release(item);
    super.clear();
  }

  override retain(keep: (item: T) => boolean): void {
    for (const item of this.slice(0)) if (!keep(item)) this.release(item);
    super.retain(keep);
  }

  private release(item: T): void {
    this.heldBytes = Math.max(0, this.heldBytes - this.held.bytesOf(item));
    this.held.drop(item, this.kind);
  }
}

/**
 * Evicts from several queues of one topic together, oldest seq first (a ring and its hand-over
 * buffers hold overlapping runs of the same messages, so only dropping a seq from all of them frees
 * it), until `bytes` were given back to the budget or the queues are empty.
 */
export function evictOldest<T extends Sequenced & object>(
  budget: MemoryBudget,
  queues: readonly BudgetedQueue<T>[],
  bytes: number,
): void {
  const goal = budget.used - bytes;
  while (budget.used > goal) {
    let oldest = Number.POSITIVE_INFINITY;
    for (const queue of queues) oldest = Math.min(oldest, queue.first?.seq ?? Number.POSITIVE_INFINITY);
    if (oldest === Number.POSITIVE_INFINITY) return;
    for (const queue of queues) while (queue.first !== undefined && queue.first.seq <= oldest) queue.shift();
  }
}

/**
 * The memory one held message takes: its `msg` frame and its data (about the same text), as V8
 * strings, plus its objects. `utf8Bytes` is the frame's UTF-8 size (measured once per message).
 */
export function heldMessageBytes(frameLength: number, utf8Bytes: number): number {
  return 2 * stringBytes(frameLength, utf8Bytes) + MESSAGE_OVERHEAD_BYTES;
}
