// Source addresses for the load generator's connections. A connection from a chosen address binds
// it with port 0 before connecting, and the kernel then looks for a port of that address that no
// socket holds, TIME_WAIT ones included. Measured here: 10,000 connections from two addresses that
// a previous run had used within the minute before (its 10,000 sockets in TIME_WAIT) cost the load
// generator 4.5 ms of CPU each instead of 0.7 ms, and opened 400 connections/s instead of 2,100.
// Every benchmark then measured the kernel's port search, not the server. So each address carries
// few connections, and no address is used twice in a process: consecutive scenarios and servers
// of one run, and the reconnects of a storm, never search among a previous one's sockets. Separate
// runs start at different /16 blocks of 127.0.0.0/8 (by process id), all on loopback.

/** Connections opened from one address at most: a small share of its ~28,000 ephemeral ports. */
export const CONNECTIONS_PER_ADDRESS = 1_000;

const block = 1 + (process.pid % 250);
let next = 0;

/** `count` loopback addresses no earlier call of this process returned. */
export function freshAddresses(count: number): string[] {
  return Array.from({ length: count }, () => {
    const n = next++;
    // 127.<block>.<0..255>.<1..254>: 65,024 addresses per block, more than any run uses.
    return `127.${block}.${Math.floor(n / 254) % 256}.${1 + (n % 254)}`;
  });
}
