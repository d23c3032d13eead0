// Slowloris bound: TCP connections that have not yet delivered a complete HTTP request (or finished
// the WebSocket upgrade). A connection stops being pending at its first complete request, or when
// its upgrade is done; one still pending after upgradeTimeoutMs is destroyed.
//
// The bound applies to *slow* connections: one pending for longer than a short grace counts against
// maxPendingUpgrades, and is destroyed when that many slow ones are already held. A burst of honest
// handshakes (a reconnect storm) finishes within the grace and is never refused; a flood of
// connections that send nothing is cut off at once beyond HARD_CAP_FACTOR times the bound.
import type { Server } from "node:http";
import type { Duplex } from "node:stream";

/** How long a connection may take to send its request before it counts as slow. */
const MAX_GRACE_MS = 1000;
/** Pending connections of any age beyond this many times the bound are dropped on arrival. */
const HARD_CAP_FACTOR = 4;

const settleKey = Symbol("herald.settlePending");
type Tracked = Duplex & { [settleKey]?: () => void };

export function guardPendingConnections(server: Server, maxSlow: number, timeoutMs: number): void {
  const graceMs = Math.min(MAX_GRACE_MS, timeoutMs / 2);
  let pending = 0;
  let slow = 0;
  server.on("connection", (socket: Tracked) => {
    if (pending >= maxSlow * HARD_CAP_FACTOR) {
      socket.destroy();
      return;
    }
    pending++;
    let countedSlow = false;
    const graceTimer = setTimeout(() => {
      if (slow >= maxSlow) {
        socket.destroy();
        return;
      }
      slow++;
      countedSlow = true;
    }, graceMs);
    const timeoutTimer = setTimeout(() => socket.destroy(), timeoutMs);
    graceTimer.unref();
    timeoutTimer.unref();
    let settled = false;
    socket[settleKey] = () => {
      if (settled) return;
      settled = true;
      pending--;
      if (countedSlow) slow--;
      clearTimeout(graceTimer);
      clearTimeout(timeoutTimer);
    };
    socket.once("close", socket[settleKey]);
  });
  // Plain HTTP requests settle as soon as they are complete; upgrades settle in the upgrade handler.
  server.on("request", (request) => settlePending(request.socket));
}

/** Marks the socket's request as complete: it no longer counts as pending nor times out. */
export function settlePending(socket: Duplex): void {
  (socket as Tracked)[settleKey]?.();
}
