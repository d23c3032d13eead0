// The SDK as the repository's Node tests and tools import it: the same module as the package's
// (client/index.ts). Node 22 and later have a global WebSocket, which the SDK uses; on older Node
// pass `{ WebSocket }` from the `ws` package.
export * from "./index.js";
