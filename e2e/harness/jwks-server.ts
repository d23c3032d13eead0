// A real JWKS HTTP server on 127.0.0.1 whose key set (and behaviour) can be changed while it runs,
// for the authenticator's tests.
import { createServer, type ServerResponse } from "node:http";
import type { JWK } from "jose";
import { listenOnLoopback } from "./free-port.js";

export type JwksBehaviour = "serve" | "error" | "hang";

export interface JwksServer {
  readonly url: string;
  /** Number of key set requests served so far. */
  readonly fetches: () => number;
  setKeys(keys: readonly JWK[]): void;
  setBehaviour(behaviour: JwksBehaviour): void;
  close(): Promise<void>;
}

export async function startJwksServer(keys: readonly JWK[]): Promise<JwksServer> {
  let current = keys;
  let behaviour: JwksBehaviour = "serve";
  let fetches = 0;
  const hanging = new Set<ServerResponse>();
  const server = createServer((_request, response) => {
    fetches++;
    if (behaviour === "hang") {
      hanging.add(response);
      return;
    }
    if (behaviour === "error") {
      response.writeHead(500, { "content-type": "text/plain" }).end("boom");
      return;
    }
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: current }));
  });
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    fetches: () => fetches,
    setKeys: (next) => void (current = next),
    setBehaviour: (next) => void (behaviour = next),
    close: () =>
      new Promise<void>((resolve) => {
        hanging.forEach((response) => response.destroy());
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
