// Ports on the loopback interface for test servers: the one place tests listen on 127.0.0.1.
import { createServer, type Server } from "node:net";

/** Listens on a free port of 127.0.0.1 and answers the port (rejects when listening fails). */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // A backlog as large as the kernel allows (net.core.somaxconn): a burst of connections (a
    // reconnect storm through the balancer) must not lose SYNs to Node's default of 511.
    server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("server has no TCP address");
  return address.port;
}

/** A free TCP port on 127.0.0.1 (bound then released; the process started next claims it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listenOnLoopback(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
