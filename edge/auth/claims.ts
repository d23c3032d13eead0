// A verified token's claims become Grants. Claims are checked as strictly as frames: a token whose
// `herald` claim is malformed is refused as a whole (with the reason), never half-applied.
import type { JWTPayload } from "jose";
import { patternProblem } from "../../protocol/topic.js";
import { AuthError, type Grants } from "./grants.js";

/** Bound on patterns per list: each topic check walks them, so a token cannot make that costly. */
export const MAX_PATTERNS_PER_LIST = 100;
const MAX_SUBJECT_LENGTH = 256;
/** The latest `exp` whose time in milliseconds is still an exact integer (about 285,000 years). */
export const MAX_EXP_SECONDS = Math.floor(Number.MAX_SAFE_INTEGER / 1000);

/** Grants of a token whose signature and time claims jose has already verified. */
export function grantsFromClaims(payload: JWTPayload): Grants {
  const { sub, exp } = payload;
  if (typeof sub !== "string" || sub.length === 0 || sub.length > MAX_SUBJECT_LENGTH) {
    throw invalid(`"sub" claim must be a string of 1-${MAX_SUBJECT_LENGTH} characters`);
  }
  if (typeof exp !== "number") throw invalid('"exp" claim is missing');
  // JSON.parse reads 1e999 as Infinity, which jose takes for a time that never comes.
  if (!Number.isFinite(exp) || exp * 1000 > Number.MAX_SAFE_INTEGER)
    throw invalid(`"exp" claim must be a finite time in seconds, at most ${MAX_EXP_SECONDS}`);
  const herald = payload.herald;
  if (herald === undefined) return { subject: sub, subscribe: [], publish: [], expiresAt: exp * 1000 };
  if (typeof herald !== "object" || herald === null || Array.isArray(herald)) {
    throw invalid('"herald" claim must be an object {"sub": [patterns], "pub": [patterns]}');
  }
  const rights = herald as Record<string, unknown>;
  const unknown = Object.keys(rights).find((key) => key !== "sub" && key !== "pub");
  if (unknown !== undefined) throw invalid(`"herald" claim has an unknown field '${unknown.slice(0, 32)}'`);
  return {
    subject: sub,
    subscribe: patternList(rights.sub, "herald.sub"),
    publish: patternList(rights.pub, "herald.pub"),
    expiresAt: exp * 1000,
  };
}

function patternList(value: unknown, claim: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`"${claim}" claim must be an array of patterns`);
  if (value.length > MAX_PATTERNS_PER_LIST)
    throw invalid(`"${claim}" claim has more than ${MAX_PATTERNS_PER_LIST} patterns`);
  value.forEach((pattern, index) => {
    const problem = patternProblem(pattern);
    if (problem) throw invalid(`"${claim}"[${index}]: ${problem}`);
  });
  return [...(value as string[])];
}

const invalid = (reason: string) => new AuthError("unauthenticated", `token is invalid: ${reason}`);
