// The edge's authenticator: JWTs (HS256 secret, RS256/ES256 public key, JWKS URL), API keys and
// anonymous access, as configured by HERALD_* variables (shared/config.ts). See docs/security.md.
import type { EdgeConfig } from "../../shared/config.js";
import { createApiKeyVerifier } from "./api-keys.js";
import type { Authenticator, Grants } from "./grants.js";
import { verifyJwt } from "./jwt.js";
import { createTokenKeys, type JwksOptions } from "./keys.js";

export { AuthError, type Authenticator, type Grants } from "./grants.js";
export type { JwksOptions } from "./keys.js";

const anonymousGrants = (publish: boolean): Grants =>
  Object.freeze({
    subject: "anonymous",
    subscribe: Object.freeze([">"]),
    publish: Object.freeze(publish ? [">"] : []),
    expiresAt: null,
  });

/** The part of EdgeConfig the authenticator reads; unset fields mean "not configured". */
export type AuthConfig = Partial<
  Pick<
    EdgeConfig,
    | "jwtSecret"
    | "jwtPublicKey"
    | "jwksUrl"
    | "jwtIssuer"
    | "jwtAudience"
    | "apiKeys"
    | "allowAnonymous"
    | "anonymousPublish"
  >
>;

/**
 * Builds the authenticator. Throws ConfigError when a configured key or URL can never work; a key
 * server that is down is not an error here (tokens are refused with a clear reason until it is up).
 */
export async function createAuthenticator(
  config: AuthConfig,
  options: JwksOptions = {},
): Promise<Authenticator> {
  const keys = createTokenKeys(config, options);
  const verifyApiKey = createApiKeyVerifier(config.apiKeys ?? []);
  const anonymous = config.allowAnonymous ? anonymousGrants(config.anonymousPublish === true) : null;
  const tokens = keys.algorithms.length > 0 ? `JWTs (${keys.algorithms.join(", ")})` : undefined;
  const http = [(config.apiKeys ?? []).length > 0 ? "API keys" : undefined, tokens].filter((x) => x);
  return {
    verifyToken: (token) => verifyJwt(token, keys, config),
    verifyApiKey,
    anonymous: () => anonymous,
    accepts: {
      http: http.length > 0 ? http.join(", ") : "nothing (no API key and no JWT key configured)",
      ws: tokens ?? "nothing (no JWT key configured)",
    },
    // Nothing to release: the key set holds no timers or sockets between fetches.
    close: () => undefined,
  };
}
