// The socket.io 4 server the suite compares against, written the way its documentation does:
// a subscriber emits "sub" with its topic and joins that room (answered "subok"); a publisher
// emits "pub" with a topic and a payload, broadcast to the room as event "m" (socket.io encodes a
// broadcast once for the whole room). WebSocket transport only, no compression.
//
//   node --import tsx bench/peers/socketio-server.ts   (prints "listening <port>")
import { createServer } from "node:http";
import { Server } from "socket.io";

const http = createServer();
const io = new Server(http, { transports: ["websocket"], perMessageDeflate: false, serveClient: false });

io.on("connection", (socket) => {
  socket.on("sub", (topic: string) => {
    void socket.join(topic);
    socket.emit("subok");
  });
  socket.on("pub", (topic: string, body: unknown) => {
    io.to(topic).emit("m", body);
  });
});

http.listen({ host: "127.0.0.1", port: 0, backlog: 4096 }, () => {
  const address = http.address();
  console.log(`listening ${typeof address === "object" && address ? address.port : address}`);
});
