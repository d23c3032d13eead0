// Rate limits per credential, for requests that come without a connection to count them on (HTTP
// publish and history): one token bucket per API key, per token subject, or per source address for
// anonymous callers. Over the limit the request is refused with 429 rate_limited and Retry-After.
// WebSocket sessions count per connection instead, with the same bucket (edge/session/session.ts).
import { RequestError } from "./request-error.js";

/** The default clock, one function for every bucket (a connection holds two). */
const monotonic = (): number => performance.now();

/**
 * A token bucket that may go into debt: a request is admitted while the bucket holds at least one
 * token and takes what it costs (a batch of 1,000 messages passes once, then the caller waits for
 * the bucket to refill), so the average rate holds whatever the batch size. With a cost of 1 it is
 * a plain token bucket: the WebSocket frames/second and publishes/second limits per connection.
 */
export class DebtBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = monotonic,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes `cost` tokens; the seconds to wait when the bucket is empty, else 0. */
  take(cost: number): number {
    this.refill();
    if (this.tokens < 1) return Math.max(1, Math.ceil((1 - this.tokens) / this.rate));
    this.tokens -= cost;
    return 0;
  }

  /** Whether the bucket is full again (a caller that has been quiet: forgetting it changes nothing). */
  get full(): boolean {
    this.refill();
    return this.tokens >= this.burst;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }
}

/** Buckets kept at most; beyond it the full ones (and then the oldest) are forgotten. */
const MAX_CREDENTIALS = 100_000;

export class CredentialLimits {
  private readonly buckets = new Map<string, DebtBucket>();

  constructor(
    /** What is counted, for the refusal: "publishes", "history requests". */
    private readonly what: string,
    private readonly rate: (credential: string) => number,
    private readonly now?: () => number,
  ) {}

  /** Counts `cost` for `credential`; throws RequestError rate_limited (429, Retry-After) over the limit. */
  take(credential: string, cost = 1): void {
    let bucket = this.buckets.get(credential);
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_CREDENTIALS) this.forget();
      const rate = this.rate(credential);
      bucket = new DebtBucket(rate, 2 * rate, this.now);
      this.buckets.set(credential, bucket);
    }
    const wait = bucket.take(cost);
    if (wait > 0)
      throw new RequestError(
        "rate_limited",
        `more than ${this.rate(credential)} ${this.what} per second for this ${kindOf(credential)}; retry after ${wait} s`,
        wait,
      );
  }

  private forget(): void {
    for (const [credential, bucket] of this.buckets) if (bucket.full) this.buckets.delete(credential);
    for (const credential of this.buckets.keys()) {
      if (this.buckets.size < MAX_CREDENTIALS) break;
      this.buckets.delete(credential);
    }
  }
}

/** The credential of a request as the limits key it: `api-key:<n>`, `token:<sub>` or `address:<ip>`. */
export type Credential = `api-key:${string}` | `token:${string}` | `address:${string}`;

function kindOf(credential: string): string {
  if (credential.startsWith("api-key:")) return "API key";
  if (credential.startsWith("token:")) return "token subject";
  return "address";
}
