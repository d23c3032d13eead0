// What an authenticated party may do. Produced by the authenticator (JWT, API key or anonymous)
// and consulted by sessions and HTTP routes; patterns are NATS-style (protocol/topic.ts).

export interface Grants {
  /** Who: the token's `sub`, "api-key:<n>", or "anonymous". */
  readonly subject: string;
  /** Patterns of topics that may be subscribed and read. */
  readonly subscribe: readonly string[];
  /** Patterns of topics that may be published to. */
  readonly publish: readonly string[];
  /** ms since the Unix epoch when these grants end (token `exp`), or null for never. */
  readonly expiresAt: number | null;
}

export class AuthError extends Error {
  constructor(
    readonly code: "unauthenticated" | "forbidden",
    message: string,
  ) {
    super(message);
    this.name = "AuthError";
  }
}

export interface Authenticator {
  /** Verifies a JWT and returns its grants; throws AuthError("unauthenticated", reason). */
  verifyToken(token: string): Promise<Grants>;
  /** Grants of an API key (constant-time comparison), or null when it is not a known key. */
  verifyApiKey(key: string): Grants | null;
  /** Grants for a connection without a token, or null when anonymous access is off. */
  anonymous(): Grants | null;
  /**
   * What this edge accepts, for refusals to say: over HTTP (API keys, JWTs) and in a WebSocket
   * auth frame (JWTs), e.g. "API keys, JWTs (HS256)"; "nothing" and why when nothing is configured.
   */
  readonly accepts: { readonly http: string; readonly ws: string };
  close(): void;
}

/**
 * How the request that opened a connection (the WebSocket upgrade) authenticated: a verified
 * `?token=`, a refused one, or none. The upgrade handler decides it; the session acts on it.
 */
export type UpgradeAuth =
  { kind: "token"; grants: Grants } | { kind: "refused"; message: string } | { kind: "none" };
