// herald.v1: the wire protocol, defined once for the edge and the client SDK.
export * from "./codes.js";
export * from "./topic.js";
export * from "./msg-id.js";
export * from "./frames.js";
export * from "./edge-frames.js";
export * from "./json-depth.js";
export * from "./error-body.js";
