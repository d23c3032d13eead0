// HS256 tokens for edge tests, signed with the secret the test edge is configured with.
import { SignJWT } from "jose";

export const TEST_JWT_SECRET = "herald-edge-tests-secret-0123456789abcdef";

export interface TokenSpec {
  readonly subject?: string;
  readonly subscribe?: string[];
  readonly publish?: string[];
  /** Seconds from now until `exp` (default one hour). */
  readonly expiresIn?: number;
}

export function signToken(spec: TokenSpec = {}, secret = TEST_JWT_SECRET): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + (spec.expiresIn ?? 3600);
  return new SignJWT({ herald: { sub: spec.subscribe ?? [">"], pub: spec.publish ?? [] } })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(spec.subject ?? "user-1")
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
}
