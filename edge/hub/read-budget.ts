// One connection's budget for reading the log on its behalf: the bytes of the replay
// pages its subscriptions read, per second. A read waits while the connection is in debt (what it
// read before is not paid for yet), so a client that resumes and unsubscribes over and over, or
// runs many replays at once, cannot make the edge read the log faster than the budget; a page is
// never cut short. Legitimate replays are paced by the client's reading, far below it.
import { setTimeout as sleep } from "node:timers/promises";

/** Reads of one connection at once: what it can owe beyond its budget is a few pages. */
const CONCURRENT_READS = 4;

export class ReadBudget {
  private tokens: number;
  private last = Date.now();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  /**
   * @param bytesPerSecond the sustained rate
   * @param burst what may be read at once after a quiet while
   */
  constructor(
    private readonly bytesPerSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /**
   * Runs one read once the connection owes nothing and has a slot (CONCURRENT_READS), then charges
   * `cost` of what it read (which may put the connection in debt).
   */
  async run<T>(read: () => Promise<T>, cost: (result: T) => number): Promise<T> {
    while (this.running >= CONCURRENT_READS) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      for (this.refill(); this.tokens <= 0; this.refill())
        await sleep(Math.ceil(((1 - this.tokens) / this.bytesPerSecond) * 1000), undefined, { ref: false });
      const result = await read();
      this.refill();
      this.tokens -= cost(result);
      return result;
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.bytesPerSecond) / 1000);
    this.last = now;
  }
}
