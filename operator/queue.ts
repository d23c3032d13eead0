// A work queue of resource keys ("namespace/name"), as in client-go: a key is queued at most once,
// never processed by two workers at the same time (a key added while it is being processed runs
// again right after), and a failed key is retried with exponential backoff.

export interface QueueOptions {
  /** First retry delay; doubles per consecutive failure of the same key. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Told of adds, retries and how long keys waited and were worked on (workqueue_* metrics). */
  observer?: QueueObserver;
}

export interface QueueObserver {
  added(): void;
  retried(): void;
  waited(seconds: number): void;
  worked(seconds: number): void;
}

export class WorkQueue {
  private readonly queued: string[] = [];
  private readonly queuedSet = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys added while processing: queued again when their processing ends. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly waiters: (() => void)[] = [];
  /** When each queued key was added, and when each key being processed was taken. */
  private readonly since = new Map<string, number>();
  private shuttingDown = false;

  constructor(private readonly options: QueueOptions) {}

  get length(): number {
    return this.queued.length;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queuedSet.has(key)) return;
    this.queuedSet.add(key);
    this.queued.push(key);
    this.since.set(key, performance.now());
    this.options.observer?.added();
    this.waiters.shift()?.();
  }

  /** Retries `key` after its backoff delay (baseDelay · 2^failures, capped). */
  addWithBackoff(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const delay = Math.min(this.options.baseDelayMs * 2 ** failures, this.options.maxDelayMs);
    if (!this.timers.has(key) && !this.shuttingDown) {
      this.options.observer?.retried();
      this.timers.set(
        key,
        setTimeout(() => {
          this.timers.delete(key);
          this.add(key);
        }, delay),
      );
    }
    return delay;
  }

  /** The key succeeded: its next failure starts from the base delay again. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** The next key to process, or undefined once shut down. Call done(key) when finished. */
  async next(): Promise<string | undefined> {
    while (this.queued.length === 0) {
      if (this.shuttingDown) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const key = this.queued.shift()!;
    this.queuedSet.delete(key);
    this.processing.add(key);
    const now = performance.now();
    this.options.observer?.waited((now - (this.since.get(key) ?? now)) / 1000);
    this.since.set(key, now);
    return key;
  }

  done(key: string): void {
    this.processing.delete(key);
    const now = performance.now();
    this.options.observer?.worked((now - (this.since.get(key) ?? now)) / 1000);
    this.since.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const wake of this.waiters.splice(0)) wake();
  }
}
