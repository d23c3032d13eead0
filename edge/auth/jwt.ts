// JWT verification: jose checks the signature with the pinned key and the time, issuer and audience
// claims; every failure becomes an AuthError whose message a person understands and which never
// repeats the token or a key.
import { errors, jwtVerify } from "jose";
import type { EdgeConfig } from "../../shared/config.js";
import { grantsFromClaims } from "./claims.js";
import { AuthError, type Grants } from "./grants.js";
import type { TokenKeys } from "./keys.js";

/** Longer tokens are refused before any parsing: no legitimate token comes near it. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

type ClaimConfig = Partial<Pick<EdgeConfig, "jwtIssuer" | "jwtAudience">>;

export async function verifyJwt(token: string, keys: TokenKeys, config: ClaimConfig): Promise<Grants> {
  if (keys.algorithms.length === 0) throw unauthenticated("no token verification key is configured");
  if (typeof token !== "string" || token.length === 0) throw unauthenticated("token is empty");
  if (token.length > MAX_TOKEN_LENGTH)
    throw unauthenticated(`token is longer than ${MAX_TOKEN_LENGTH} characters`);
  try {
    const { payload } = await jwtVerify(token, keys.resolve, {
      algorithms: [...keys.algorithms],
      requiredClaims: ["exp", "sub"],
      ...(config.jwtIssuer === undefined ? {} : { issuer: config.jwtIssuer }),
      ...(config.jwtAudience === undefined ? {} : { audience: config.jwtAudience }),
    });
    return grantsFromClaims(payload);
  } catch (error) {
    throw error instanceof AuthError ? error : unauthenticated(describe(error));
  }
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "token has expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === "missing") return `token is invalid: "${error.claim}" claim is missing`;
    switch (error.claim) {
      case "nbf":
        return "token is not valid yet (nbf is in the future)";
      case "iss":
        return "token issuer (iss) is not accepted";
      case "aud":
        return "token audience (aud) is not accepted";
      default:
        return `token is invalid: "${error.claim}" claim is invalid`;
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return "token algorithm is not accepted";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "token signature is invalid";
  if (error instanceof errors.JWKSNoMatchingKey) return "no key of the key set (JWKS) matches the token";
  if (error instanceof errors.JWKSMultipleMatchingKeys)
    return "several keys of the key set (JWKS) match the token; it needs a kid";
  if (error instanceof errors.JWKSTimeout) return "the key set (JWKS) server did not answer in time";
  if (error instanceof errors.JWKSInvalid) return "the key set (JWKS) server returned an invalid key set";
  if (error instanceof errors.JOSEError && /JSON Web Key Set HTTP response/.test(error.message)) {
    return "the key set (JWKS) server answered with an error or not with JSON";
  }
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSENotSupported
  ) {
    return "token is malformed";
  }
  return "token is invalid";
}

const unauthenticated = (message: string) => new AuthError("unauthenticated", message);
