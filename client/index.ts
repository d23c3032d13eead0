// The Herald client SDK: browser entry (and the source of edge/public/client.js). Node services
// import client/node.ts, which is the same API with the `ws` package as WebSocket.
export { HeraldClient } from "./client.js";
export type {
  ClientEvents,
  ClientState,
  HeraldClientOptions,
  PublishOptions,
  SubscribeOptions,
} from "./client.js";
export { Subscription } from "./subscription.js";
export type {
  HeraldMessage,
  MessageHandler,
  ResyncInfo,
  SubscribeFrom,
  SubscriptionEvents,
} from "./subscription.js";
export type { PublishResult } from "./publish-tracker.js";
export { memoryPositions, webStoragePositions } from "./storage.js";
export type { Position, PositionStorage, WebStorageLike } from "./storage.js";
export { HeraldError } from "./errors.js";
export type { TokenSource } from "./token.js";
export type { WebSocketConstructor, WebSocketLike } from "./websocket.js";
