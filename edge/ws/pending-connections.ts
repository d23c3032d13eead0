// Slowloris bound: TCP connections that have not yet delivered a complete HTTP request (its request
// line and headers; for a WebSocket, the upgrade request). Every connection gets a short grace to
// send it; one still without it afterwards is *slow*. Slow connections are bounded per source address
// first (HERALD_MAX_PENDING_PER_ADDRESS), then in all (HERALD_MAX_PENDING_UPGRADES): a connection
// that turns slow while its address already holds its share is cut at once, unanswered; when all
// the slow ones the edge keeps are taken, the address holding the most loses its oldest (or, when it
// is the newcomer's own, the newcomer is cut). One that is still pending after upgradeTimeoutMs is
// cut in any case.
//
// Nothing is refused on arrival or for taking the edge's own time: a burst of honest handshakes (a
// reconnect storm, a load balancer's pool) is never refused, however large, since each sends its
// request at once; and the grace is judged after the I/O that already arrived has been read, so a
// busy edge does not take its own backlog for slow clients. A host holding silent sockets holds at
// most its share, and honest clients on other addresses are not locked out by it.
import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";

/** How long a connection may take to send its request before it counts as slow. */
const MAX_GRACE_MS = 1000;

export interface PendingLimits {
  /** Slow connections kept in all (HERALD_MAX_PENDING_UPGRADES). */
  readonly maxSlow: number;
  /** Slow connections kept per source address (HERALD_MAX_PENDING_PER_ADDRESS). */
  readonly maxSlowPerAddress: number;
  /** Time to send the request and finish the upgrade (HERALD_UPGRADE_TIMEOUT_MS). */
  readonly timeoutMs: number;
}

/** The socket's pending state, until its request is settled (then undefined: nothing is kept). */
const pendingKey = Symbol("herald.pending");
type Tracked = Socket & { [pendingKey]?: Pending | undefined };

/** The slow connections one server keeps, by source address, each set in the order they turned slow. */
class SlowConnections {
  private readonly byAddress = new Map<string, Set<Tracked>>();
  private count = 0;

  constructor(private readonly limits: PendingLimits) {}

  /** A connection still without its request after the grace: keep it within the bounds (true), or not. */
  turnedSlow(address: string, socket: Tracked): boolean {
    const own = this.byAddress.get(address)?.size ?? 0;
    if (own >= this.limits.maxSlowPerAddress) return false;
    if (this.count >= this.limits.maxSlow) {
      const [other, sockets] = this.heaviest()!;
      if (other === address || sockets.size <= own + 1) return false;
      // Make room at the expense of the address that holds the most: its oldest slow one goes.
      const oldest = sockets.values().next().value!;
      oldest[pendingKey]?.requestComplete();
      oldest.destroy();
    }
    let sockets = this.byAddress.get(address);
    if (sockets === undefined) this.byAddress.set(address, (sockets = new Set()));
    sockets.add(socket);
    this.count++;
    return true;
  }

  drop(address: string, socket: Tracked): void {
    const sockets = this.byAddress.get(address);
    if (!sockets?.delete(socket)) return;
    this.count--;
    if (sockets.size === 0) this.byAddress.delete(address);
  }

  /** The address holding the most slow connections (the first such, when several do). */
  private heaviest(): [string, Set<Tracked>] | undefined {
    let found: [string, Set<Tracked>] | undefined;
    for (const entry of this.byAddress) if (!found || entry[1].size > found[1].size) found = entry;
    return found;
  }
}

/**
 * One connection until its request is settled: its two timers and whether it counts as slow. The
 * timers and the close listener are shared functions given this object, and the socket lets go of it
 * once settled, so an open WebSocket keeps nothing of its handshake.
 */
class Pending {
  private counted = false;
  private complete = false;
  private readonly graceTimer: NodeJS.Timeout;
  private readonly timeoutTimer: NodeJS.Timeout;

  constructor(
    private readonly socket: Tracked,
    private readonly address: string,
    private readonly slow: SlowConnections,
    graceMs: number,
    timeoutMs: number,
  ) {
    this.graceTimer = setTimeout(graceOver, graceMs, this).unref();
    this.timeoutTimer = setTimeout(timedOut, timeoutMs, socket).unref();
    socket[pendingKey] = this;
    socket.on("close", settleOnClose);
  }

  /** Judged after this turn's I/O: a request already in the socket's buffer is read first. */
  judge(): void {
    if (this.complete || this.socket.destroyed) return;
    if (this.slow.turnedSlow(this.address, this.socket)) this.counted = true;
    else this.socket.destroy();
  }

  /** Its request line and headers are in: no longer slow (an upgrade may still time out). */
  requestComplete(): void {
    if (this.complete) return;
    this.complete = true;
    clearTimeout(this.graceTimer);
    if (this.counted) this.slow.drop(this.address, this.socket);
    this.counted = false;
  }

  /** Done with the bound: no timeout any more, and the socket forgets this object. */
  settle(): void {
    this.requestComplete();
    clearTimeout(this.timeoutTimer);
    this.socket.removeListener("close", settleOnClose);
    this.socket[pendingKey] = undefined;
  }
}

function graceOver(pending: Pending): void {
  setImmediate(() => pending.judge());
}

function timedOut(socket: Socket): void {
  socket.destroy();
}

function settleOnClose(this: Tracked): void {
  this[pendingKey]?.settle();
}

export function guardPendingConnections(server: Server, limits: PendingLimits): void {
  const graceMs = Math.min(MAX_GRACE_MS, limits.timeoutMs / 2);
  const slow = new SlowConnections(limits);
  server.on("connection", (socket: Tracked) => {
    new Pending(socket, socket.remoteAddress ?? "unknown", slow, graceMs, limits.timeoutMs);
  });
  // A request's headers are in: it is no longer slow. A plain request is done with the bound; an
  // upgrade still has upgradeTimeoutMs to finish (its token may be being verified).
  server.on("request", (request) => settlePending(request.socket));
  server.on("upgrade", (request) => (request.socket as Tracked)[pendingKey]?.requestComplete());
}

/** Marks the socket's request as complete: it no longer counts as pending nor times out. */
export function settlePending(socket: Duplex): void {
  (socket as Tracked)[pendingKey]?.settle();
}
