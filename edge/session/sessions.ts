// The open sessions of one edge: counting them (maxConnections, the connections gauge), the
// heartbeat that drops silent peers, and the list the drain works through.
import type { EdgeMetrics } from "../common/metrics.js";
import type { Session } from "./session.js";

/**
 * The heartbeat interval is cut into this many ticks, and each session is pinged on one of them:
 * an edge of 15,000 connections then writes 1,500 pings per tick instead of 15,000 at once (and
 * as many pongs come back), which would hold up deliveries on every connection for that turn.
 */
const HEARTBEAT_SLICES = 10;

export class Sessions {
  /** Each open session, and the slice of the heartbeat that pings it. */
  private readonly open = new Map<Session, Set<Session>>();
  private readonly slices = Array.from({ length: HEARTBEAT_SLICES }, () => new Set<Session>());
  private added = 0;
  private tick = 0;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly metrics: EdgeMetrics,
    heartbeatMs: number,
  ) {
    // A peer that answered nothing (no pong, no frame) since the previous ping is gone: a half-open
    // TCP connection would otherwise hold its subscriptions and buffers forever.
    this.heartbeat = setInterval(() => {
      const slice = this.slices[this.tick++ % HEARTBEAT_SLICES]!;
      for (const session of [...slice]) {
        if (!session.responsive) {
          session.terminate();
          continue;
        }
        session.responsive = false;
        session.ping();
      }
    }, heartbeatMs / HEARTBEAT_SLICES);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.open.size;
  }

  add(session: Session): void {
    const slice = this.slices[this.added++ % HEARTBEAT_SLICES]!;
    slice.add(session);
    this.open.set(session, slice);
    this.metrics.connections.set(this.open.size);
  }

  remove(session: Session): void {
    const slice = this.open.get(session);
    if (!slice) return;
    slice.delete(session);
    this.open.delete(session);
    this.metrics.connections.set(this.open.size);
  }

  list(): Session[] {
    return [...this.open.keys()];
  }

  stop(): void {
    clearInterval(this.heartbeat);
  }
}
