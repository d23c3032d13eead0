// The Herald client SDK: the one entry of the package (@herald/client) for browsers and Node, and
// the source of edge/public/client.js. Node 22+ has a global WebSocket; older Node passes `ws`.
export { HeraldClient } from "./client.js";
export type {
  ClientEvents,
  ClientState,
  HeraldClientOptions,
  Limits,
  PublishOptions,
  StateChange,
  SubscribeOptions,
  TransportKind,
} from "./client.js";
export { Subscription } from "./subscription.js";
export type {
  HeraldMessage,
  MessageHandler,
  ResyncInfo,
  SubscribeFrom,
  SubscribedContext,
  SubscribingContext,
  SubscriptionEvents,
  SubscriptionState,
  UnsubscribedContext,
} from "./subscription.js";
export type { PublishResult } from "./publish-tracker.js";
export { memoryPositions, webStoragePositions } from "./storage.js";
export type { Position, PositionStorage, WebStorageLike } from "./storage.js";
export { HeraldError } from "./errors.js";
export type { TokenSource } from "./token.js";
export type { BackoffOptions } from "./backoff.js";
export type { WebSocketConstructor, WebSocketLike } from "./websocket.js";
export type { FetchLike } from "./sse.js";
export type { Listener } from "./emitter.js";
