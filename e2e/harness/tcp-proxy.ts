// A TCP proxy on loopback whose connections a test can cut and restore: put it between an edge and
// nats-server to simulate a network partition without touching either process.
import { createServer, connect, type Socket } from "node:net";
import type { Teardown } from "./nats-server.js";

export interface TcpProxy {
  readonly port: number;
  /** `nats://127.0.0.1:<port>` — convenient when the target is a nats-server. */
  readonly url: string;
  /** Destroys every open connection and refuses new ones until restore(). */
  cut(): void;
  /** Accepts connections again. */
  restore(): void;
  /** Connections currently open through the proxy. */
  connections(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(t: Teardown, target: { host?: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let open = true;
  const server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: target.host ?? "127.0.0.1", port: target.port });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const cutAll = () => {
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  const close = async () => {
    open = false;
    cutAll();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.teardown(close);
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    cut() {
      open = false;
      cutAll();
    },
    restore() {
      open = true;
    },
    connections: () => pairs.size,
    close,
  };
}
