// The plain `ws` broadcast server the suite compares against, as the `ws` README writes one:
// subscribers connect with ?topic=T (answered "ok"); a publisher connects to /pub and sends
// "<topic>\n<payload>"; the server sends the payload bytes, as received, to every subscriber of
// the topic. No log, no order or loss guarantee, no per-connection bound: the naive baseline.
//
//   node --import tsx bench/peers/ws-broadcast.ts   (prints "listening <port>")
import { WebSocketServer, type WebSocket } from "ws";

const topics = new Map<string, Set<WebSocket>>();
const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, backlog: 4096 });

server.on("connection", (ws, request) => {
  const url = new URL(request.url ?? "/", "http://x");
  if (url.pathname === "/pub") {
    ws.on("message", (data: Buffer) => {
      const newline = data.indexOf(10);
      const subscribers = topics.get(data.subarray(0, newline).toString());
      if (!subscribers) return;
      const body = data.subarray(newline + 1);
      for (const subscriber of subscribers) subscriber.send(body, { binary: false });
    });
    return;
  }
  const topic = url.searchParams.get("topic") ?? "";
  let subscribers = topics.get(topic);
  if (!subscribers) topics.set(topic, (subscribers = new Set()));
  subscribers.add(ws);
  ws.on("close", () => subscribers.delete(ws));
  ws.send("ok");
});

server.on("listening", () => {
  const address = server.address();
  console.log(`listening ${typeof address === "object" && address ? address.port : address}`);
});
