// Reconnect delays: exponential backoff with full jitter (a uniformly random delay between 0 and
// the capped exponential), so that thousands of clients dropped at once by one edge do not come
// back in lock-step and knock over the next one.

/** Reconnect delays (HeraldClientOptions.backoff): a random delay between 0 and min(maxMs, initialMs · factor^attempt). */
export interface BackoffOptions {
  /** Upper bound of the first delay, ms (default 500). */
  readonly initialMs: number;
  /** Cap on the upper bound, ms (default 30000). */
  readonly maxMs: number;
  /** Growth of the upper bound per failed attempt (default 2). */
  readonly factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2 };

export class Backoff {
  #attempt = 0;

  constructor(
    private readonly options: BackoffOptions = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call counts one more failed attempt. */
  next(): number {
    const ceiling = Math.min(
      this.options.maxMs,
      this.options.initialMs * this.options.factor ** this.#attempt,
    );
    this.#attempt++;
    return Math.floor(this.random() * ceiling);
  }

  /** After a connection that worked: the next failure starts small again. */
  reset(): void {
    this.#attempt = 0;
  }
}
