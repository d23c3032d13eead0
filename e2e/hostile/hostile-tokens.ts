// Tokens an attacker would try against an edge that accepts HS256 (TEST_JWT_SECRET) and RS256
// (one RSA public key): forged, expired, wrongly signed, `alg: none`, HMAC "signed" with the RSA
// public key as the secret, and claims carrying __proto__. Built by hand where jose would refuse.
import { createHmac } from "node:crypto";
import { exportSPKI, generateKeyPair } from "jose";
import { sign, signToken, TEST_JWT_SECRET } from "../harness/tokens.js";

const base64url = (text: string) => Buffer.from(text).toString("base64url");
const inOneHour = () => Math.floor(Date.now() / 1000) + 3600;

/** header.payload.signature with an HMAC-SHA256 over the exact JSON texts given. */
export function hs256Raw(
  headerJson: string,
  payloadJson: string,
  secret: string | Buffer = TEST_JWT_SECRET,
): string {
  const input = `${base64url(headerJson)}.${base64url(payloadJson)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

export interface HostileKeys {
  /** SPKI PEM the edge is configured with (HERALD_JWT_PUBLIC_KEY). */
  readonly publicKeyPem: string;
  /** A valid RS256 token with every right. */
  readonly validRs256: string;
  /** RS256, signed with another RSA key. */
  readonly wrongRsaKey: string;
  /** HS256, signed with the RSA public key PEM as the HMAC secret (algorithm confusion). */
  readonly publicKeyAsHmacSecret: string;
  /** ES256 with a key the edge does not know; ES256 is not configured at all. */
  readonly es256: string;
}

export async function hostileKeys(): Promise<HostileKeys> {
  const edgeKeys = await generateKeyPair("RS256");
  const otherKeys = await generateKeyPair("RS256");
  const ecKeys = await generateKeyPair("ES256");
  const publicKeyPem = await exportSPKI(edgeKeys.publicKey);
  const claims = JSON.parse(everything()) as Record<string, unknown>;
  return {
    publicKeyPem,
    validRs256: await sign(claims, edgeKeys.privateKey, { alg: "RS256" }),
    wrongRsaKey: await sign(claims, otherKeys.privateKey, { alg: "RS256" }),
    publicKeyAsHmacSecret: hs256Raw('{"alg":"HS256","typ":"JWT"}', everything(), publicKeyPem),
    es256: await sign(claims, ecKeys.privateKey, { alg: "ES256" }),
  };
}

/**
 * A valid token of exactly `length` characters (HS256, subject "long", every subscribe right and
 * publish on hostile.>), its length made up by a padding claim.
 */
export function tokenOfLength(length: number): string {
  const build = (pad: number) =>
    hs256Raw(
      '{"alg":"HS256"}',
      JSON.stringify({
        sub: "long",
        exp: inOneHour(),
        herald: { sub: [">"], pub: ["hostile.>"] },
        pad: "p".repeat(pad),
      }),
    );
  // base64url makes 4 characters of 3 bytes: start above and step down to the exact length.
  for (let pad = Math.ceil((length * 3) / 4); pad >= 0; pad--) {
    const token = build(pad);
    if (token.length === length) return token;
    if (token.length < length) break;
  }
  throw new Error(`no token of exactly ${length} characters`);
}

/** Claims granting every right, as JSON text. */
export function everything(subject = "attacker"): string {
  return JSON.stringify({ sub: subject, exp: inOneHour(), herald: { sub: [">"], pub: [">"] } });
}

export const forgedTokens = {
  /** Signed with a secret that is not the edge's. */
  otherSecret: () => signToken({ publish: [">"] }, "not-the-edge-secret-0123456789abcdefgh"),
  expired: () => signToken({ expiresIn: -120 }),
  algNone: () => `${base64url('{"alg":"none","typ":"JWT"}')}.${base64url(everything())}.`,
  /** The signature of a valid token, with the payload swapped for one granting more. */
  payloadSwapped: async () => {
    const [header, , signature] = (await signToken({ subscribe: ["own.>"] })).split(".");
    return `${header}.${base64url(everything())}.${signature}`;
  },
  noExp: () => hs256Raw('{"alg":"HS256"}', JSON.stringify({ sub: "attacker", herald: { sub: [">"] } })),
  noSub: () => hs256Raw('{"alg":"HS256"}', JSON.stringify({ exp: inOneHour(), herald: { sub: [">"] } })),
  badPattern: () =>
    hs256Raw(
      '{"alg":"HS256"}',
      JSON.stringify({ sub: "attacker", exp: inOneHour(), herald: { sub: ["a.>.b"] } }),
    ),
  /** Rights smuggled in through __proto__ inside the herald claim. */
  protoInHerald: () =>
    hs256Raw(
      '{"alg":"HS256"}',
      `{"sub":"attacker","exp":${inOneHour()},"herald":{"__proto__":{"pub":[">"]},"sub":["a.>"]}}`,
    ),
  /** Rights smuggled in through a top-level __proto__ (no herald claim of its own). */
  protoAtTop: () =>
    hs256Raw(
      '{"alg":"HS256"}',
      `{"sub":"attacker","exp":${inOneHour()},"__proto__":{"herald":{"sub":[">"],"pub":[">"]}}}`,
    ),
  /** Rights smuggled in through constructor.prototype. */
  constructorAtTop: () =>
    hs256Raw(
      '{"alg":"HS256"}',
      `{"sub":"attacker","exp":${inOneHour()},"constructor":{"prototype":{"herald":{"sub":[">"],"pub":[">"]}}}}`,
    ),
  /** A header whose __proto__ tries to change the algorithm. */
  protoInHeader: () =>
    `${base64url('{"__proto__":{"alg":"HS256"},"alg":"none"}')}.${base64url(everything())}.`,
  /** Valid for ~30,000 years: beyond what one setTimeout can wait. */
  farFuture: () =>
    hs256Raw('{"alg":"HS256"}', JSON.stringify({ sub: "patient", exp: 1e12, herald: { sub: [">"] } })),
  /** `exp` of 1e999: JSON.parse reads Infinity, a time that never comes. */
  expInfinite: () =>
    hs256Raw('{"alg":"HS256"}', '{"sub":"forever","exp":1e999,"herald":{"sub":[">"],"pub":[">"]}}'),
  notYetValid: () =>
    hs256Raw(
      '{"alg":"HS256"}',
      JSON.stringify({ sub: "early", exp: inOneHour(), nbf: inOneHour() - 60, herald: { sub: [">"] } }),
    ),
  expAsString: () =>
    hs256Raw(
      '{"alg":"HS256"}',
      JSON.stringify({ sub: "attacker", exp: String(inOneHour()), herald: { sub: [">"] } }),
    ),
  tooManyPatterns: () =>
    hs256Raw(
      '{"alg":"HS256"}',
      JSON.stringify({
        sub: "attacker",
        exp: inOneHour(),
        herald: { sub: Array.from({ length: 101 }, (_, i) => `t${i}.>`) },
      }),
    ),
  notAJwt: () => "definitely-not-a-jwt",
  oversized: () => "x".repeat(16 * 1024 + 1),
};
