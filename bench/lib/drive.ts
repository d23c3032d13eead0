// The publisher side of a run, the same for every target: messages numbered per topic (the
// subscribers check that numbering), sent either open-loop at a fixed rate or closed-loop as fast
// as the slowest delivery allows, then waited for until every delivery arrived or a bound passed.
import type { LoadPool } from "../load/pool.js";
import { payload } from "./payload.js";
import type { Target } from "./targets.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Driver {
  private readonly next = new Map<string, number>();
  /** Deliveries the subscribers should have received, over every message sent so far. */
  expected = 0;
  sent = 0;

  constructor(
    private readonly target: Target,
    private readonly pool: LoadPool,
    private readonly topics: readonly string[],
    /** Subscribers of each topic, same order as `topics`. */
    private readonly subscribersOf: (index: number) => number,
  ) {}

  private publishOne(): void {
    const index = this.sent % this.topics.length;
    const topic = this.topics[index]!;
    const n = this.next.get(topic) ?? 0;
    this.next.set(topic, n + 1);
    this.target.publish(topic, payload(n));
    this.expected += this.subscribersOf(index);
    this.sent++;
  }

  /** `rate` messages per second in all, round-robin over the topics, for `seconds`. */
  async openLoop(rate: number, seconds: number): Promise<void> {
    const total = Math.round(rate * seconds);
    const started = performance.now();
    for (let i = 0; i < total;) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
      for (; i < due; i++) this.publishOne();
      await sleep(Math.max(0, started + (i / rate) * 1000 - performance.now()));
    }
  }

  /**
   * As fast as delivery keeps up: a message is published only while fewer than `lag` messages'
   * deliveries are outstanding (as reported by the load processes). Returns the deliveries per
   * second measured after a warm-up of a fifth of the run.
   */
  async closedLoop(lag: number, seconds: number): Promise<number> {
    const perMessage = this.expected === 0 ? this.subscribersOf(0) : this.expected / Math.max(1, this.sent);
    const started = performance.now();
    const end = started + seconds * 1000;
    const warm = started + seconds * 200;
    let mark: { at: number; delivered: number } | undefined;
    while (performance.now() < end) {
      if (!mark && performance.now() >= warm)
        mark = { at: performance.now(), delivered: this.pool.delivered() };
      const outstanding = (this.expected - this.pool.delivered()) / perMessage;
      for (let room = Math.floor(lag - outstanding); room > 0; room--) this.publishOne();
      await sleep(1);
    }
    mark ??= { at: started, delivered: 0 };
    return ((this.pool.delivered() - mark.delivered) / (performance.now() - mark.at)) * 1000;
  }

  /**
   * Waits until every expected delivery arrived or nothing arrived for `quietMs`: what is still
   * missing then is reported as lost (late beyond the bound, on an overloaded machine, counts too).
   */
  async drain(quietMs = 15_000): Promise<void> {
    let last = -1;
    let since = performance.now();
    while (this.pool.delivered() < this.expected) {
      const now = this.pool.delivered();
      if (now !== last) {
        last = now;
        since = performance.now();
      } else if (performance.now() - since > quietMs) return;
      await sleep(25);
    }
    await sleep(50);
  }
}
