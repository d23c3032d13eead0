// One process of a load balancer spread over several (balancers.ts): the harness's TCP balancer on
// a port it shares with the others (SO_REUSEPORT). Told over IPC which backends to use and which to
// remove; answers how many of its connections go to a backend. Ends when its parent goes away.
import { Cleanup } from "../cleanup.js";
import { startTcpBalancer, type TcpBalancer } from "../../e2e/harness/tcp-balancer.js";

export type ToBalancer =
  | { type: "start"; port: number; backends: number[]; sourceAddresses: string[] }
  | { type: "remove"; backend: number }
  | { type: "count"; backend: number; id: number };
export type FromBalancer = { type: "listening" } | { type: "count"; id: number; connections: number };

const cleanup = new Cleanup();
let balancer: TcpBalancer | undefined;
const reply = (message: FromBalancer) => process.send!(message);

process.on("message", (message: ToBalancer) => {
  switch (message.type) {
    case "start":
      void startTcpBalancer(cleanup, message.backends, {
        sharedPort: message.port,
        sourceAddresses: message.sourceAddresses,
      }).then((started) => {
        balancer = started;
        reply({ type: "listening" });
      });
      return;
    case "remove":
      balancer?.remove(message.backend);
      return;
    case "count":
      reply({ type: "count", id: message.id, connections: balancer?.connectionsTo(message.backend) ?? 0 });
      return;
  }
});
process.on("disconnect", () => void cleanup.run().finally(() => process.exit(0)));
