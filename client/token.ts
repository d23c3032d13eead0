// Tokens: a fixed JWT or a function that fetches a fresh one. The client reads only `exp` from the
// payload (it never verifies; the edge does) to refresh the token on the open connection before
// the edge closes it with 4001.

/**
 * A JWT, or a function that fetches a fresh one (from your backend): called when connecting, before
 * the current token's `exp`, and after the edge refused a token (4001/4003).
 */
export type TokenSource = string | (() => Promise<string>);

/** The token's `exp` in ms since the Unix epoch, or undefined when it has none or is not a JWT. */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const base64 = payload
      .replace(/-/g, "+")
      .replace(/_/g, "/")
      .padEnd(Math.ceil(payload.length / 4) * 4, "=");
    const claims: unknown = JSON.parse(atob(base64));
    const exp = (claims as { exp?: unknown } | null)?.exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Longest lead before `exp` at which a refresh starts; short-lived tokens refresh at 3/4 of their life. */
const MAX_REFRESH_LEAD_MS = 30_000;

/** ms from `now` until the token should be refreshed, or undefined when it never expires. */
export function refreshDelay(token: string, now: number): number | undefined {
  const expiry = tokenExpiry(token);
  if (expiry === undefined) return undefined;
  const remaining = expiry - now;
  return Math.max(0, remaining - Math.min(MAX_REFRESH_LEAD_MS, remaining / 4));
}

/** Holds the current token and fetches new ones from the source. */
export class TokenProvider {
  #current: string | undefined;
  /**
   * When the current token is due for a refresh, fixed when it was obtained (undefined: never
   * expires). Judged from the time left then, not now: judged from the time left, a token would
   * never be due, since a quarter of what is left always is.
   */
  #refreshAt: number | undefined;

  constructor(private readonly source: TokenSource | undefined) {
    if (typeof source === "string") this.#take(source);
  }

  /** Whether new tokens can be fetched (a function), as opposed to one fixed string. */
  get refreshable(): boolean {
    return typeof this.source === "function";
  }

  get current(): string | undefined {
    return this.#current;
  }

  /** ms from `now` until the current token is due for a refresh, or undefined when it never expires. */
  refreshDelay(now: number): number | undefined {
    return this.#refreshAt === undefined ? undefined : Math.max(0, this.#refreshAt - now);
  }

  /**
   * The token to connect with: the current one until it is due for a refresh, else a fresh one (a
   * connection opened with a token about to expire would be closed with 4001 before its refresh).
   */
  async forConnect(now: number): Promise<string | undefined> {
    if (this.#current !== undefined && (!this.refreshable || this.refreshDelay(now) !== 0)) {
      return this.#current;
    }
    return this.fetch();
  }

  /** A fresh token from the source (a fixed token is returned as is). */
  async fetch(): Promise<string | undefined> {
    if (typeof this.source !== "function") return this.#current;
    const token = await this.source();
    if (typeof token !== "string" || token.length === 0)
      throw new Error("herald: the token function must return a non-empty string");
    this.#take(token);
    return token;
  }

  #take(token: string): void {
    this.#current = token;
    const now = Date.now();
    const delay = refreshDelay(token, now);
    this.#refreshAt = delay === undefined ? undefined : now + delay;
  }
}
