// A real TCP load balancer on 127.0.0.1, the way a cloud L4 load balancer fronts a set of edge pods:
// each new connection goes to the next backend in round-robin order; a backend whose connect fails
// (a crashed pod) is skipped and the next one tried; the test removes a backend when its readiness
// probe would fail (a draining pod) and adds a new one when a replacement becomes ready. Removing a
// backend only stops NEW connections to it: open ones keep flowing, as with a real load balancer's
// connection draining. Everything is closed when the test ends.
import { createServer, connect, type Socket } from "node:net";
import type { Teardown } from "./nats-server.js";
import { listenOnLoopback } from "./free-port.js";

/** How long a backend may take to accept before it counts as failed and the next one is tried. */
const CONNECT_TIMEOUT_MS = 2_000;

export interface TcpBalancer {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `ws://127.0.0.1:<port>/v1/ws` */
  readonly wsUrl: string;
  /** Starts sending new connections to this backend port (no-op when it is already in). */
  add(port: number): void;
  /** Stops sending new connections to this backend port; its open connections stay. */
  remove(port: number): void;
  /** The backend ports new connections are spread over, in round-robin order. */
  backends(): number[];
  /** Connections currently open through the balancer to this backend port. */
  connectionsTo(port: number): number;
  /** Connections accepted from clients so far, and of those, how many reached no backend at all. */
  stats(): { accepted: number; unrouted: number; skippedBackends: number };
  close(): Promise<void>;
}

export interface BalancerOptions {
  /**
   * Listen on this port of 127.0.0.1 with SO_REUSEPORT, so that several balancer processes share it
   * and the kernel spreads new connections over them (one process may hold 20,000 open files here,
   * two per balanced connection). Default: a free port of its own.
   */
  readonly sharedPort?: number;
  /**
   * Loopback addresses to make the upstream connections from, in turn, as a cloud balancer spreads
   * them over its own addresses. Default: 127.0.0.1, where the kernel looks for a free port per
   * backend on every connect; with tens of thousands of connections to a few backend ports that
   * search took 15% of the machine's CPU in a reconnect storm (`__inet_hash_connect`).
   */
  readonly sourceAddresses?: readonly string[];
}

export async function startTcpBalancer(
  t: Teardown,
  backendPorts: number[],
  options: BalancerOptions = {},
): Promise<TcpBalancer> {
  const backends = [...backendPorts];
  let next = 0;
  let accepted = 0;
  let unrouted = 0;
  let skippedBackends = 0;
  let nextSource = 0;
  const sources = options.sourceAddresses ?? [];
  const open = new Map<Socket, { upstream: Socket | undefined; port: number | undefined }>();

  /** The next backend in round-robin order that this connection has not tried yet. */
  const pick = (tried: Set<number>): number | undefined => {
    for (let i = 0; i < backends.length; i++) {
      const index = (next + i) % backends.length;
      const port = backends[index]!;
      if (tried.has(port)) continue;
      next = index + 1;
      return port;
    }
    return undefined;
  };

  /** Connects the client to a backend, skipping those whose connect fails (a crashed pod). */
  const route = (client: Socket, tried: Set<number>) => {
    const port = client.destroyed ? undefined : pick(tried);
    if (port === undefined) {
      unrouted++;
      client.destroy();
      return;
    }
    tried.add(port);
    const localAddress = sources.length > 0 ? sources[nextSource++ % sources.length] : undefined;
    const upstream = connect({ host: "127.0.0.1", port, ...(localAddress ? { localAddress } : {}) });
    const timer = setTimeout(() => upstream.destroy(new Error("connect timeout")), CONNECT_TIMEOUT_MS);
    const failedConnect = () => {
      clearTimeout(timer);
      skippedBackends++;
      route(client, tried);
    };
    upstream.once("error", failedConnect);
    upstream.once("connect", () => {
      clearTimeout(timer);
      upstream.off("error", failedConnect);
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      open.set(client, { upstream, port });
      const drop = () => {
        client.destroy();
        upstream.destroy();
        open.delete(client);
      };
      upstream.on("error", drop).on("close", drop);
      client.on("close", drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  };

  const server = createServer({ pauseOnConnect: true }, (client) => {
    accepted++;
    open.set(client, { upstream: undefined, port: undefined });
    // A client error is followed by close; the pair is torn down there.
    client.on("error", () => undefined);
    client.once("close", () => open.delete(client));
    route(client, new Set());
  });
  const port =
    options.sharedPort === undefined
      ? await listenOnLoopback(server)
      : await new Promise<number>((resolve, reject) => {
          server.once("error", reject);
          server.listen({ host: "127.0.0.1", port: options.sharedPort, reusePort: true, backlog: 4096 }, () =>
            resolve(options.sharedPort!),
          );
        });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const [client, pair] of open) {
        client.destroy();
        pair.upstream?.destroy();
      }
      open.clear();
      await stopped;
    })());
  t.teardown(close);

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    add(backend) {
      if (!backends.includes(backend)) backends.push(backend);
    },
    remove(backend) {
      const index = backends.indexOf(backend);
      if (index >= 0) backends.splice(index, 1);
    },
    backends: () => [...backends],
    connectionsTo: (backend) => [...open.values()].filter((pair) => pair.port === backend).length,
    stats: () => ({ accepted, unrouted, skippedBackends }),
    close,
  };
}
