// The open sessions of one edge: counting them (maxConnections, the connections gauge), the
// heartbeat that drops silent peers, and the list the drain works through.
import type { EdgeMetrics } from "../common/metrics.js";
import type { Session } from "./session.js";

export class Sessions {
  private readonly open = new Set<Session>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly metrics: EdgeMetrics,
    heartbeatMs: number,
  ) {
    // A peer that answered nothing (no pong, no frame) since the previous ping is gone: a half-open
    // TCP connection would otherwise hold its subscriptions and buffers forever.
    this.heartbeat = setInterval(() => {
      for (const session of [...this.open]) {
        if (!session.responsive) {
          session.terminate();
          continue;
        }
        session.responsive = false;
        session.ping();
      }
    }, heartbeatMs);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.open.size;
  }

  add(session: Session): void {
    this.open.add(session);
    this.metrics.connections.set(this.open.size);
  }

  remove(session: Session): void {
    if (!this.open.delete(session)) return;
    this.metrics.connections.set(this.open.size);
  }

  list(): Session[] {
    return [...this.open];
  }

  stop(): void {
    clearInterval(this.heartbeat);
  }
}
