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

const settleKey = Symbol("herald.settlePending");
const requestKey = Symbol("herald.requestComplete");
type Tracked = Socket & { [settleKey]?: () => void; [requestKey]?: () => void };

export function guardPendingConnections(server: Server, limits: PendingLimits): void {
  const graceMs = Math.min(MAX_GRACE_MS, limits.timeoutMs / 2);
  /** The slow connections kept, by address, each set in the order they turned slow. */
  const slowByAddress = new Map<string, Set<Tracked>>();
  let slow = 0;

  const keepSlow = (address: string, socket: Tracked) => {
    let sockets = slowByAddress.get(address);
    if (sockets === undefined) slowByAddress.set(address, (sockets = new Set()));
    sockets.add(socket);
    slow++;
  };
  const dropSlow = (address: string, socket: Tracked) => {
    const sockets = slowByAddress.get(address);
    if (!sockets?.delete(socket)) return;
    slow--;
    if (sockets.size === 0) slowByAddress.delete(address);
  };
  /** The address holding the most slow connections (the first such, when several do). */
  const heaviest = (): [string, Set<Tracked>] | undefined => {
    let found: [string, Set<Tracked>] | undefined;
    for (const entry of slowByAddress) if (!found || entry[1].size > found[1].size) found = entry;
    return found;
  };

  /** A connection still without its request after the grace: keep it within the bounds, or cut. */
  const turnedSlow = (address: string, socket: Tracked): boolean => {
    const own = slowByAddress.get(address)?.size ?? 0;
    if (own >= limits.maxSlowPerAddress) return false;
    if (slow >= limits.maxSlow) {
      const [other, sockets] = heaviest()!;
      if (other === address || sockets.size <= own + 1) return false;
      // Make room at the expense of the address that holds the most: its oldest slow one goes.
      const oldest = sockets.values().next().value!;
      oldest[requestKey]?.();
      oldest.destroy();
    }
    keepSlow(address, socket);
    return true;
  };

  server.on("connection", (socket: Tracked) => {
    const address = socket.remoteAddress ?? "unknown";
    let counted = false;
    let complete = false;
    const graceTimer = setTimeout(
      () =>
        // Judged after this turn's I/O: a request already in the socket's buffer is read first.
        setImmediate(() => {
          if (complete || socket.destroyed) return;
          if (turnedSlow(address, socket)) counted = true;
          else socket.destroy();
        }),
      graceMs,
    );
    const timeoutTimer = setTimeout(() => socket.destroy(), limits.timeoutMs);
    graceTimer.unref();
    timeoutTimer.unref();
    socket[requestKey] = () => {
      if (complete) return;
      complete = true;
      clearTimeout(graceTimer);
      if (counted) dropSlow(address, socket);
      counted = false;
    };
    let settled = false;
    socket[settleKey] = () => {
      if (settled) return;
      settled = true;
      socket[requestKey]?.();
      clearTimeout(timeoutTimer);
    };
    socket.once("close", socket[settleKey]);
  });
  // A request's headers are in: it is no longer slow. A plain request is done with the bound; an
  // upgrade still has upgradeTimeoutMs to finish (its token may be being verified).
  server.on("request", (request) => settlePending(request.socket));
  server.on("upgrade", (request) => (request.socket as Tracked)[requestKey]?.());
}

/** Marks the socket's request as complete: it no longer counts as pending nor times out. */
export function settlePending(socket: Duplex): void {
  (socket as Tracked)[settleKey]?.();
}
