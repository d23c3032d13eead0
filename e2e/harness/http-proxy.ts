// An HTTP proxy on loopback in front of an edge, as a corporate proxy would be: it relays plain
// HTTP requests (streamed both ways, so Server-Sent Events pass), and relays WebSocket upgrades or
// refuses them with 403 — the networks the SDK's SSE fallback is for. It can cut every connection.
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Teardown } from "./nats-server.js";
import { listenOnLoopback } from "./free-port.js";

export interface HttpProxy {
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** From now on, refuse (true) or relay (false, the default) WebSocket upgrades. */
  refuseUpgrades(refuse: boolean): void;
  /** Upgrade requests seen so far, and how many were refused. */
  upgrades(): { seen: number; refused: number };
  /** Plain requests relayed so far whose path starts with `prefix`. */
  requests(prefix?: string): number;
  /** Cuts every connection open now (no close handshake, as a network failure would). */
  cutAll(): void;
  close(): Promise<void>;
}

export async function startHttpProxy(
  t: Teardown,
  target: { port: number; host?: string },
): Promise<HttpProxy> {
  const host = target.host ?? "127.0.0.1";
  let refuse = false;
  let seen = 0;
  let refused = 0;
  const paths: string[] = [];
  const sockets = new Set<Duplex>();
  const track = (socket: Duplex) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };

  const server = createServer((request, response) => {
    paths.push(request.url ?? "/");
    const upstream = httpRequest(
      { host, port: target.port, method: request.method, path: request.url, headers: request.headers },
      (answer: IncomingMessage) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
        answer.on("error", () => response.destroy());
      },
    );
    upstream.on("error", () => response.destroy());
    response.on("close", () => upstream.destroy());
    request.pipe(upstream);
  });
  server.on("connection", track);
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    seen++;
    if (refuse) {
      refused++;
      socket.end(
        "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 24\r\n\r\nWebSockets are blocked\r\n",
      );
      return;
    }
    const upstream: Socket = connect(target.port, host);
    track(upstream);
    upstream.on("connect", () => {
      const lines = [`${request.method} ${request.url} HTTP/1.1`];
      for (let i = 0; i < request.rawHeaders.length; i += 2)
        lines.push(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    upstream.on("close", () => socket.destroy());
    socket.on("close", () => upstream.destroy());
  });
  const port = await listenOnLoopback(server);

  let closed: Promise<void> | undefined;
  const proxy: HttpProxy = {
    port,
    url: `http://127.0.0.1:${port}`,
    refuseUpgrades: (value) => {
      refuse = value;
    },
    upgrades: () => ({ seen, refused }),
    requests: (prefix = "/") => paths.filter((path) => path.startsWith(prefix)).length,
    cutAll: () => {
      for (const socket of [...sockets]) socket.destroy();
    },
    close: () =>
      (closed ??= (async () => {
        proxy.cutAll();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })()),
  };
  t.teardown(() => proxy.close());
  return proxy;
}
