// Node entry of the client SDK: the browser API with the `ws` package as WebSocket (Node 20 has
// no global WebSocket). Kept out of index.ts so the browser bundle never sees `ws`.
import WebSocket from "ws";
import { HeraldClient as BaseClient, type HeraldClientOptions } from "./client.js";
import type { WebSocketConstructor } from "./websocket.js";

export * from "./index.js";

export class HeraldClient extends BaseClient {
  constructor(options: HeraldClientOptions) {
    super({ WebSocket: WebSocket as unknown as WebSocketConstructor, ...options });
  }
}
