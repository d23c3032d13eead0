// API keys for servers that publish and read history. Keys are compared in constant time: both the
// candidate and every configured key are hashed to 32 bytes first (so lengths never differ and the
// comparison cannot reveal a prefix), and every key is compared, so the time does not say which.
import { createHash, timingSafeEqual } from "node:crypto";
import type { Grants } from "./grants.js";

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest();

/** Returns a verifier: the grants of a known key (`api-key:<index>`, everything), else null. */
export function createApiKeyVerifier(keys: readonly string[]): (candidate: string) => Grants | null {
  const digests = keys.map(sha256);
  const grants = keys.map((_, index): Grants =>
    Object.freeze({ subject: `api-key:${index}`, subscribe: [">"], publish: [">"], expiresAt: null }),
  );
  return (candidate) => {
    if (typeof candidate !== "string" || candidate.length === 0) return null;
    const digest = sha256(candidate);
    let found = -1;
    digests.forEach((known, index) => {
      if (timingSafeEqual(known, digest) && found < 0) found = index;
    });
    return found < 0 ? null : grants[found]!;
  };
}
