// Where token verification keys come from: an HMAC secret (HS256), one SPKI public key (RS256 or
// ES256, decided by the key's type) and/or a JWKS URL. Each key is pinned to its algorithm, so a
// token cannot choose how it is checked: `alg: none` is never accepted, and an HS256 token "signed"
// with the public key as HMAC secret is checked against the HMAC secret only (or refused outright
// when there is none).
import { createPublicKey, type KeyObject } from "node:crypto";
import {
  createRemoteJWKSet,
  errors,
  jwksCache,
  type FlattenedJWSInput,
  type JWKSCacheInput,
  type JWSHeaderParameters,
} from "jose";
import { ConfigError, type EdgeConfig } from "../../shared/config.js";
import { AuthError } from "./grants.js";

export type TokenAlgorithm = "HS256" | "RS256" | "ES256";

export interface JwksOptions {
  /** Bound on one JWKS fetch; a slow key server must not hold connections open. */
  readonly jwksTimeoutMs?: number;
  /**
   * Least time between two fetches (protects the key server). A token with an unknown `kid` that
   * arrives sooner waits for the cooldown to end and is then checked against one refetch, shared by
   * every token waiting: a key published during the cooldown is accepted, only later.
   */
  readonly jwksCooldownMs?: number;
  /** How long fetched keys are trusted before the next token triggers a refetch. */
  readonly jwksCacheMaxAgeMs?: number;
}

export const JWKS_DEFAULTS = {
  jwksTimeoutMs: 5_000,
  jwksCooldownMs: 5_000,
  jwksCacheMaxAgeMs: 600_000,
} as const;

type VerificationKey = KeyObject | Uint8Array | CryptoKey;

export interface TokenKeys {
  /** Algorithms some configured key accepts; empty when no key is configured. */
  readonly algorithms: readonly TokenAlgorithm[];
  /** The key for a token, chosen by its header's `alg` (and `kid` for JWKS). */
  resolve(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<VerificationKey>;
}

type KeyConfig = Partial<Pick<EdgeConfig, "jwtSecret" | "jwtPublicKey" | "jwksUrl">>;

/** Builds the key sources; throws ConfigError on a key or URL that can never work. */
export function createTokenKeys(config: KeyConfig, options: JwksOptions = {}): TokenKeys {
  const secret = config.jwtSecret === undefined ? undefined : new TextEncoder().encode(config.jwtSecret);
  const publicKey = config.jwtPublicKey === undefined ? undefined : parsePublicKey(config.jwtPublicKey);
  const jwks =
    config.jwksUrl === undefined ? undefined : remoteKeySet(config.jwksUrl, { ...JWKS_DEFAULTS, ...options });

  const algorithms = new Set<TokenAlgorithm>();
  if (secret) algorithms.add("HS256");
  if (publicKey) algorithms.add(publicKey.alg);
  if (jwks) ["RS256", "ES256"].forEach((alg) => algorithms.add(alg as TokenAlgorithm));

  return {
    algorithms: [...algorithms],
    async resolve(header, token) {
      // jose has already refused any alg outside `algorithms` before asking for a key.
      if (header.alg === "HS256" && secret) return secret;
      // A token naming a kid is meant for the key set; without a kid, the single configured key.
      if (publicKey && header.alg === publicKey.alg && (!jwks || header.kid === undefined))
        return publicKey.key;
      if (jwks) return jwks(header, token);
      throw new AuthError(
        "unauthenticated",
        `token is invalid: no configured key accepts algorithm ${String(header.alg)}`,
      );
    },
  };
}

/** jose reports its own failures as JOSEError; anything else is fetch not reaching the key server. */
function unreachableKeySet(error: unknown): never {
  if (error instanceof errors.JOSEError) throw error;
  throw new AuthError("unauthenticated", "the key set (JWKS) server could not be reached");
}

function parsePublicKey(pem: string): { key: KeyObject; alg: TokenAlgorithm } {
  // Environment variables often carry PEM newlines escaped as "\n".
  const text = pem.includes("\n") ? pem : pem.replaceAll("\\n", "\n");
  const problem = (what: string) => new ConfigError([`HERALD_JWT_PUBLIC_KEY ${what}`]);
  // Refuse private keys and certificates even though Node could derive a public key from them:
  // a private key in this (non-secret) variable is a leak the operator must hear about.
  if (!text.includes("-----BEGIN PUBLIC KEY-----"))
    throw problem("must be a PEM public key (-----BEGIN PUBLIC KEY-----, SPKI)");
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: "pem" });
  } catch {
    throw problem("could not be parsed as a PEM public key (SPKI)");
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") {
    if ((details.modulusLength ?? 0) < 2048) throw problem("is an RSA key shorter than 2048 bits");
    return { key, alg: "RS256" };
  }
  if (key.asymmetricKeyType === "ec" && details.namedCurve === "prime256v1") return { key, alg: "ES256" };
  throw problem(
    `must be an RSA (RS256) or P-256 EC (ES256) key, got ${key.asymmetricKeyType ?? "unknown"} ${details.namedCurve ?? ""}`.trim(),
  );
}

function remoteKeySet(url: string, options: Required<JwksOptions>) {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError([`HERALD_JWKS_URL must be an absolute http(s) URL, got ${JSON.stringify(url)}`]);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new ConfigError([`HERALD_JWKS_URL must be an http(s) URL, got ${JSON.stringify(url)}`]);
  }
  // jose writes the time of its last successful fetch here (`uat`): it tells when the cooldown ends.
  const cache: JWKSCacheInput & { uat?: number } = {};
  const keySet = createRemoteJWKSet(parsed, {
    timeoutDuration: options.jwksTimeoutMs,
    cooldownDuration: options.jwksCooldownMs,
    cacheMaxAge: options.jwksCacheMaxAgeMs,
    [jwksCache]: cache,
  });
  let refetch: Promise<void> | undefined;
  /** One refetch once the cooldown is over, shared by every token that waits for it. */
  const refetchAfterCooldown = () =>
    (refetch ??= new Promise<void>((resolve) => {
      const wait = Math.max(0, (cache.uat ?? 0) + options.jwksCooldownMs - Date.now());
      setTimeout(resolve, wait).unref();
    })
      .then(() => keySet.reload())
      .finally(() => (refetch = undefined)));

  return async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    const fetchedBefore = cache.uat;
    try {
      return await keySet(header, token);
    } catch (error) {
      // jose refuses an unknown kid without refetching during its cooldown. Unless the key set was
      // just fetched for this very token, the kid may be a key published since: look once more.
      if (!(error instanceof errors.JWKSNoMatchingKey) || cache.uat !== fetchedBefore)
        unreachableKeySet(error);
      await refetchAfterCooldown().catch(unreachableKeySet);
      return keySet(header, token).catch(unreachableKeySet);
    }
  };
}
