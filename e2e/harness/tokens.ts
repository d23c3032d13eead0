// The credentials of the tests: one HS256 secret and one API key that test edges are configured
// with, one signer for every token a test needs (Herald tokens, exact claims, RS256/ES256 keys),
// and the unsigned token an attacker would send.
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from "jose";

export const TEST_JWT_SECRET = "herald-edge-tests-secret-0123456789abcdef";
export const TEST_API_KEY = "herald-tests-api-key-0123456789";

/** The environment of a test edge that accepts the test API key and test tokens. */
export const TEST_EDGE_ENV: Record<string, string> = {
  HERALD_API_KEYS: TEST_API_KEY,
  HERALD_JWT_SECRET: TEST_JWT_SECRET,
  HERALD_LOG_LEVEL: "warn",
};

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
): Promise<string> {
  const defined = Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
  const alg = header.alg ?? ("alg" in key ? key.alg : "HS256");
  const kid = header.kid ?? ("kid" in key ? key.kid : undefined);
  const signingKey = "privateKey" in key ? key.privateKey : key;
  return new SignJWT(defined)
    .setProtectedHeader({ alg, ...(kid === undefined ? {} : { kid }) })
    .sign(signingKey);
}

export const hmacKey = (secret = TEST_JWT_SECRET) => new TextEncoder().encode(secret);

export interface TokenSpec {
  readonly subject?: string;
  /** Patterns the token may subscribe to (default everything). */
  readonly subscribe?: string[];
  /** Patterns the token may publish to (default none). */
  readonly publish?: string[];
  /** Seconds from now until `exp` (default one hour; negative: already expired). */
  readonly expiresIn?: number;
}

/** A Herald token (HS256) for an edge configured with `secret` (default TEST_JWT_SECRET). */
export function signToken(spec: TokenSpec = {}, secret = TEST_JWT_SECRET): Promise<string> {
  return sign(
    {
      sub: spec.subject ?? "user-1",
      exp: nowSeconds() + (spec.expiresIn ?? 3600),
      herald: { sub: spec.subscribe ?? [">"], pub: spec.publish ?? [] },
    },
    hmacKey(secret),
  );
}

/** A token with `alg: none` and no signature, as an attacker would send it. */
export function unsignedToken(payload: JWTPayload): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(payload)}.`;
}
