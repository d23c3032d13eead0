// Catches messages whose live copy never arrived and that no later message reveals.
//
// Why: the live copies are core NATS (at most once). A copy can be lost (the server drops messages
// to a slow connection, a reconnect) and the prev chain only shows the gap when the NEXT message of
// the topic arrives — which may be never. So the heads of the subscribed topics are compared with
// what the feeds delivered, periodically (HERALD_HEAD_CHECK_SECONDS). A feed that is behind repairs
// from JetStream. (Losses around a disconnect are handled by the reconnect's catch-up of every feed;
// the server ends a slow consumer's connection, so that is a reconnect too.)
//
// Cost: one direct get (last_by_subj, any replica answers) per topic checked, at most
// MAX_TOPICS_PER_CHECK per periodic check (round-robin beyond), sharing the backend's read limit.
import type { EdgeMetrics } from "../../common/metrics.js";
import type { ConcurrencyLimit } from "./concurrency.js";
import type { StreamReader } from "./reader.js";

/** Topics checked per periodic check; with more, each is checked every ceil(n / this) intervals. */
export const MAX_TOPICS_PER_CHECK = 1000;

/** What a head check needs of a live feed (TopicFeed). */
export interface CheckedFeed {
  readonly topic: string;
  /** The stream holds the topic up to `seq`. */
  noteStoredHead(seq: number): void;
}

export class HeadChecker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private cursor = 0;

  constructor(
    private readonly feeds: () => CheckedFeed[],
    private readonly reader: StreamReader,
    private readonly metrics: EdgeMetrics,
    private readonly limit: ConcurrencyLimit,
    private readonly intervalMs: number,
  ) {}

  /** Starts the periodic check (not when the interval is 0). */
  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.checkNext(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Checks up to MAX_TOPICS_PER_CHECK topics, continuing where the last check stopped. One check
   * at a time: a call while one runs gets that one.
   */
  checkNext(): Promise<void> {
    if (this.running) return this.running;
    const feeds = this.feeds();
    const count = Math.min(MAX_TOPICS_PER_CHECK, feeds.length);
    const start = feeds.length === 0 ? 0 : this.cursor % feeds.length;
    this.cursor = start + count;
    const batch = Array.from({ length: count }, (_, i) => feeds[(start + i) % feeds.length]!);
    this.running = this.checkFeeds(batch).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async checkFeeds(batch: CheckedFeed[]): Promise<void> {
    await Promise.all(
      batch.map((feed) =>
        this.limit.run(async () => {
          this.metrics.backendReads.inc({ kind: "head-check" });
          try {
            const head = await this.reader.last(feed.topic);
            if (head) feed.noteStoredHead(head.seq);
          } catch {
            // JetStream unreachable: the stream probe reports it, the next check tries again.
          }
        }),
      ),
    );
  }
}
