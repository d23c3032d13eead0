// The load balancer the cluster tests put in front of the edges behaves like a cloud L4 one:
// round-robin, a backend that refuses connects is skipped, a removed backend gets no new
// connections while its open ones keep working, and with no backend left a connection is closed.
import test from "ava";
import { connect, createServer, type Server, type Socket } from "node:net";
import { listenOnLoopback } from "../harness/free-port.js";
import type { Teardown } from "../harness/nats-server.js";
import { startTcpBalancer } from "../harness/tcp-balancer.js";

/** A backend that greets each connection with its name, then echoes. */
async function namedBackend(t: Teardown, name: string): Promise<{ port: number; server: Server }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
  const port = await listenOnLoopback(server);
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { port, server };
}

/** Connects through the balancer; resolves with the first line received ("" when closed without one). */
async function open(port: number): Promise<{ socket: Socket; greeting: string }> {
  const socket = connect({ host: "127.0.0.1", port });
  const greeting = await new Promise<string>((resolve) => {
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes("\n")) resolve(text.split("\n")[0]!);
    });
    socket.once("close", () => resolve(""));
    socket.once("error", () => undefined);
  });
  return { socket, greeting };
}

async function greetings(port: number, count: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const { socket, greeting } = await open(port);
    socket.destroy();
    names.push(greeting);
  }
  return names;
}

test("round-robin, failed connects skipped, removal spares open connections, nothing left means closed", async (t) => {
  const [a, b, c] = await Promise.all(["a", "b", "c"].map((name) => namedBackend(t, name)));
  const balancer = await startTcpBalancer(t, [a!.port, b!.port, c!.port]);
  t.deepEqual(await greetings(balancer.port, 6), ["a", "b", "c", "a", "b", "c"]);

  // b crashes: its port refuses connects, and the balancer goes on to the next backend.
  await new Promise<void>((resolve) => b!.server.close(() => resolve()));
  t.deepEqual(await greetings(balancer.port, 4), ["a", "c", "a", "c"]);
  t.true(balancer.stats().skippedBackends >= 2);

  // a is taken out (its readiness probe failed): no new connections, the open one still works.
  const kept = await open(balancer.port);
  t.regex(kept.greeting, /^[ac]$/);
  balancer.remove(a!.port);
  balancer.remove(b!.port);
  t.deepEqual(balancer.backends(), [c!.port]);
  t.deepEqual(await greetings(balancer.port, 2), ["c", "c"]);
  const echoed = new Promise<string>((resolve) =>
    kept.socket.once("data", (chunk: Buffer) => resolve(chunk.toString())),
  );
  kept.socket.write("still here\n");
  t.is(await echoed, "still here\n");
  kept.socket.destroy();

  balancer.add(a!.port);
  t.deepEqual((await greetings(balancer.port, 2)).sort(), ["a", "c"]);

  // Every backend gone: the client's connection is closed without a byte.
  balancer.remove(a!.port);
  balancer.remove(c!.port);
  t.deepEqual(await greetings(balancer.port, 1), [""]);
  t.is(balancer.stats().unrouted, 1);
});
