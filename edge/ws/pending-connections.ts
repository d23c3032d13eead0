// Slowloris bound: TCP connections that have not yet delivered a complete HTTP request (or finished
// the WebSocket upgrade) are counted and timed. Beyond maxPendingUpgrades new ones are dropped at
// once; one that takes longer than upgradeTimeoutMs is destroyed. A connection stops being pending
// at its first complete request, or when its upgrade is done.
import type { Server } from "node:http";
import type { Duplex } from "node:stream";

const settleKey = Symbol("herald.settlePending");
type Tracked = Duplex & { [settleKey]?: () => void };

export function guardPendingConnections(server: Server, maxPending: number, timeoutMs: number): void {
  let pending = 0;
  server.on("connection", (socket: Tracked) => {
    if (pending >= maxPending) {
      socket.destroy();
      return;
    }
    pending++;
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    timer.unref();
    let settled = false;
    socket[settleKey] = () => {
      if (settled) return;
      settled = true;
      pending--;
      clearTimeout(timer);
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
