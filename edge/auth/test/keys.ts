// Test helpers for the authenticator tests: real key pairs, real signed tokens and a real JWKS
// HTTP server on 127.0.0.1 whose key set can be changed while it runs.
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from "jose";

export const HMAC_SECRET = "test-secret-that-is-at-least-32-characters-long";

export interface KeyPair {
  readonly alg: "RS256" | "ES256";
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicPem: string;
  readonly jwk: JWK;
}

export async function keyPair(
  alg: "RS256" | "ES256",
  kid = `${alg}-${Math.random().toString(36).slice(2)}`,
): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { alg, kid, privateKey, publicPem: await exportSPKI(publicKey), jwk };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Claims of a valid token: subject "user-1", an hour to live, some rights. */
export function claims(extra: JWTPayload = {}): JWTPayload {
  return {
    sub: "user-1",
    exp: nowSeconds() + 3600,
    herald: { sub: ["scores.>"], pub: ["user.*.inbox"] },
    ...extra,
  };
}

/** Signs exactly the given claims (undefined values are dropped, so a test can remove a claim). */
export function sign(
  payload: JWTPayload,
  key: KeyPair | Uint8Array | CryptoKey,
  header: { alg?: string; kid?: string } = {},
) {
  const defined = Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
  const alg = header.alg ?? ("alg" in key ? key.alg : "HS256");
  const kid = header.kid ?? ("kid" in key ? key.kid : undefined);
  const signingKey = "privateKey" in key ? key.privateKey : key;
  return new SignJWT(defined)
    .setProtectedHeader({ alg, ...(kid === undefined ? {} : { kid }) })
    .sign(signingKey);
}

export const hmacKey = (secret = HMAC_SECRET) => new TextEncoder().encode(secret);

/** A token with `alg: none` and no signature, as an attacker would send it. */
export function unsignedToken(payload: JWTPayload): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(payload)}.`;
}

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
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
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
