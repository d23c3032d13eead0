// A TCP load balancer in several processes sharing one port (SO_REUSEPORT, the kernel spreads new
// connections over them), for runs with more connections than one process can hold: each balanced
// connection takes two open files, and one process may hold 20,000 here. Each process balances
// round-robin over the same backends, as the harness's single-process balancer does.
import type { ChildProcess } from "node:child_process";
import { freePort } from "../../e2e/harness/free-port.js";
import { forkTracked, kill } from "./children.js";
import type { Cleanup } from "../cleanup.js";
import type { FromBalancer, ToBalancer } from "./balancer-process.js";
import { CONNECTIONS_PER_ADDRESS, freshAddresses } from "../load/source-addresses.js";

/** Balanced connections one process takes at most (two open files each, under 20,000). */
export const CONNECTIONS_PER_BALANCER = 8_000;

export interface SharedBalancer {
  readonly wsUrl: string;
  /** Its processes (for their CPU and memory beside the servers' and the load's). */
  readonly pids: number[];
  /** Stops sending new connections to this backend port; its open connections stay. */
  remove(backend: number): void;
  /** Connections currently open through the balancer to this backend port. */
  connectionsTo(backend: number): Promise<number>;
}

export async function startSharedBalancer(
  cleanup: Cleanup,
  backends: number[],
  processes: number,
): Promise<SharedBalancer> {
  const port = await freePort();
  const children: ChildProcess[] = [];
  let nextId = 0;
  const send = (child: ChildProcess, message: ToBalancer) => child.send(message);
  for (let i = 0; i < processes; i++) {
    const child = forkTracked("bench/lib/balancer-process.ts", []);
    cleanup.teardown(() => kill(child));
    children.push(child);
    const listening = new Promise<void>((resolve, reject) => {
      child.on("message", (message: FromBalancer) => message.type === "listening" && resolve());
      child.once("exit", (code) => reject(new Error(`balancer process exited with ${code}`)));
    });
    // Its upstream connections come from addresses of their own, as the load's do (source-addresses.ts).
    const sourceAddresses = freshAddresses(Math.ceil(CONNECTIONS_PER_BALANCER / CONNECTIONS_PER_ADDRESS));
    send(child, { type: "start", port, backends, sourceAddresses });
    await listening;
  }
  const countOn = (child: ChildProcess, backend: number) =>
    new Promise<number>((resolve) => {
      const id = nextId++;
      const onMessage = (message: FromBalancer) => {
        if (message.type !== "count" || message.id !== id) return;
        child.off("message", onMessage);
        resolve(message.connections);
      };
      child.on("message", onMessage);
      send(child, { type: "count", backend, id });
    });
  return {
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    pids: children.map((child) => child.pid!),
    remove: (backend) => children.forEach((child) => send(child, { type: "remove", backend })),
    connectionsTo: async (backend) =>
      (await Promise.all(children.map((child) => countOn(child, backend)))).reduce((a, b) => a + b, 0),
  };
}
