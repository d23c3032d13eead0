// JWT verification with real keys: what is accepted, and every way a token is refused, with the
// exact message a client (and the person reading its logs) gets.
import { createHmac } from "node:crypto";
import test, { type ExecutionContext } from "ava";
import { generateKeyPair } from "jose";
import { AuthError, createAuthenticator, type Authenticator } from "./index.js";
import { claims, hmacKey, keyPair, sign, TEST_JWT_SECRET, unsignedToken } from "../../e2e/harness/tokens.js";

const rsa = await keyPair("RS256");
const ec = await keyPair("ES256");
const now = () => Math.floor(Date.now() / 1000);

const hs = () => createAuthenticator({ jwtSecret: TEST_JWT_SECRET });
const rs = () => createAuthenticator({ jwtPublicKey: rsa.publicPem });

async function refused(t: ExecutionContext, auth: Authenticator, token: string, message: string) {
  const error = await t.throwsAsync(auth.verifyToken(token), { instanceOf: AuthError });
  t.deepEqual({ code: error?.code, message: error?.message }, { code: "unauthenticated", message });
}

test("HS256, RS256 and ES256 tokens are accepted and mapped to grants", async (t) => {
  const exp = now() + 600;
  const expected = {
    subject: "user-1",
    subscribe: ["scores.>"],
    publish: ["user.*.inbox"],
    expiresAt: exp * 1000,
  };
  t.deepEqual(await (await hs()).verifyToken(await sign(claims({ exp }), hmacKey())), expected);
  t.deepEqual(await (await rs()).verifyToken(await sign(claims({ exp }), rsa)), expected);
  const es = await createAuthenticator({ jwtPublicKey: ec.publicPem });
  t.deepEqual(await es.verifyToken(await sign(claims({ exp }), ec)), expected);
});

test("a token without a herald claim authenticates with no rights", async (t) => {
  const exp = now() + 600;
  const grants = await (await hs()).verifyToken(await sign({ sub: "u", exp }, hmacKey()));
  t.deepEqual(grants, { subject: "u", subscribe: [], publish: [], expiresAt: exp * 1000 });
});

test("a PEM whose newlines are escaped as \\n (as in many env files) is accepted", async (t) => {
  const auth = await createAuthenticator({ jwtPublicKey: ec.publicPem.trim().replaceAll("\n", "\\n") });
  t.is((await auth.verifyToken(await sign(claims(), ec))).subject, "user-1");
});

test("a forged payload under a genuine signature is refused", async (t) => {
  const auth = await hs();
  const [header, , signature] = (await sign(claims(), hmacKey())).split(".");
  const forged = Buffer.from(JSON.stringify(claims({ herald: { sub: [">"], pub: [">"] } }))).toString(
    "base64url",
  );
  await refused(t, auth, `${header}.${forged}.${signature}`, "token signature is invalid");
});

test("tokens signed with another key are refused", async (t) => {
  await refused(
    t,
    await hs(),
    await sign(claims(), hmacKey("another-secret-that-is-32-characters-or-more")),
    "token signature is invalid",
  );
  await refused(t, await rs(), await sign(claims(), await keyPair("RS256")), "token signature is invalid");
  const es = await createAuthenticator({ jwtPublicKey: ec.publicPem });
  await refused(t, es, await sign(claims(), await keyPair("ES256")), "token signature is invalid");
});

test("expired and not-yet-valid tokens are refused", async (t) => {
  const auth = await hs();
  await refused(t, auth, await sign(claims({ exp: now() - 10 }), hmacKey()), "token has expired");
  await refused(
    t,
    auth,
    await sign(claims({ nbf: now() + 600 }), hmacKey()),
    "token is not valid yet (nbf is in the future)",
  );
});

/** An HS256 token over the exact payload text given (jose would write Infinity as null). */
function hs256OverText(payload: string): string {
  const part = (text: string) => Buffer.from(text).toString("base64url");
  const input = `${part('{"alg":"HS256"}')}.${part(payload)}`;
  return `${input}.${createHmac("sha256", TEST_JWT_SECRET).update(input).digest("base64url")}`;
}

test("an exp that never comes (1e999 reads as Infinity) or is beyond exact milliseconds is refused", async (t) => {
  const auth = await hs();
  const reason = 'token is invalid: "exp" claim must be a finite time in seconds, at most 9007199254740';
  for (const exp of ["1e999", "1.8e308", "9007199254741"])
    await refused(t, auth, hs256OverText(`{"sub":"u","exp":${exp},"herald":{"sub":[">"]}}`), reason);
  // The latest exp still accepted: about 285,000 years from now, its milliseconds exact.
  const latest = await auth.verifyToken(hs256OverText('{"sub":"u","exp":9007199254740}'));
  t.is(latest.expiresAt, 9007199254740000);
});

test("a token without exp or sub is refused", async (t) => {
  const auth = await hs();
  await refused(
    t,
    auth,
    await sign(claims({ exp: undefined }), hmacKey()),
    'token is invalid: "exp" claim is missing',
  );
  await refused(
    t,
    auth,
    await sign(claims({ sub: undefined }), hmacKey()),
    'token is invalid: "sub" claim is missing',
  );
  await refused(
    t,
    auth,
    await sign(claims({ sub: "" }), hmacKey()),
    'token is invalid: "sub" claim must be a string of 1-256 characters',
  );
  await refused(
    t,
    auth,
    await sign(claims({ exp: "soon" as unknown as number }), hmacKey()),
    'token is invalid: "exp" claim is invalid',
  );
});

test("alg none is refused whatever keys are configured", async (t) => {
  for (const auth of [
    await hs(),
    await rs(),
    await createAuthenticator({ jwtSecret: TEST_JWT_SECRET, jwtPublicKey: ec.publicPem }),
  ]) {
    await refused(t, auth, unsignedToken(claims()), "token algorithm is not accepted");
  }
});

test("an HS256 token signed with the public key as HMAC secret is refused", async (t) => {
  const token = await sign(claims(), new TextEncoder().encode(rsa.publicPem), { alg: "HS256" });
  // Only a public key configured: HS256 is not accepted at all.
  await refused(t, await rs(), token, "token algorithm is not accepted");
  // A secret as well: HS256 is checked against the secret only, never against the public key.
  const both = await createAuthenticator({ jwtSecret: TEST_JWT_SECRET, jwtPublicKey: rsa.publicPem });
  await refused(t, both, token, "token signature is invalid");
});

test("each public key accepts only its own algorithm", async (t) => {
  await refused(t, await rs(), await sign(claims(), ec), "token algorithm is not accepted");
  // An RSA key with PS256 instead of RS256: same key, other algorithm, refused.
  const ps = await generateKeyPair("PS256");
  await refused(
    t,
    await rs(),
    await sign(claims(), ps.privateKey, { alg: "PS256" }),
    "token algorithm is not accepted",
  );
});

test("issuer and audience are enforced when configured", async (t) => {
  const auth = await createAuthenticator({
    jwtSecret: TEST_JWT_SECRET,
    jwtIssuer: "https://id.example",
    jwtAudience: "herald",
  });
  const good = await sign(claims({ iss: "https://id.example", aud: ["other", "herald"] }), hmacKey());
  t.is((await auth.verifyToken(good)).subject, "user-1");
  await refused(
    t,
    auth,
    await sign(claims({ iss: "https://evil.example", aud: "herald" }), hmacKey()),
    "token issuer (iss) is not accepted",
  );
  await refused(
    t,
    auth,
    await sign(claims({ iss: "https://id.example", aud: "other" }), hmacKey()),
    "token audience (aud) is not accepted",
  );
  await refused(
    t,
    auth,
    await sign(claims({ aud: "herald" }), hmacKey()),
    'token is invalid: "iss" claim is missing',
  );
  await refused(
    t,
    auth,
    await sign(claims({ iss: "https://id.example" }), hmacKey()),
    'token is invalid: "aud" claim is missing',
  );
});

test("malformed herald claims and patterns make the whole token invalid", async (t) => {
  const auth = await hs();
  const cases: [unknown, string][] = [
    ["all", '"herald" claim must be an object {"sub": [patterns], "pub": [patterns]}'],
    [[">"], '"herald" claim must be an object {"sub": [patterns], "pub": [patterns]}'],
    [null, '"herald" claim must be an object {"sub": [patterns], "pub": [patterns]}'],
    [{ sub: ">" }, '"herald.sub" claim must be an array of patterns'],
    [{ pub: { a: 1 } }, '"herald.pub" claim must be an array of patterns'],
    [{ sub: ["ok", 7] }, '"herald.sub"[1]: pattern must be a string'],
    [{ sub: ["a..b"] }, '"herald.sub"[0]: pattern has an empty token'],
    [{ pub: [">.a"] }, "\"herald.pub\"[0]: '>' may only be the last token of a pattern"],
    [
      { pub: ["a b"] },
      '"herald.pub"[0]: pattern tokens may only contain A-Z a-z 0-9 _ - : @ = + or be * or >',
    ],
    [{ sub: [""] }, '"herald.sub"[0]: pattern must not be empty'],
    [
      { sub: Array.from({ length: 101 }, (_, i) => `t${i}`) },
      '"herald.sub" claim has more than 100 patterns',
    ],
    [{ sub: [], admin: true }, "\"herald\" claim has an unknown field 'admin'"],
  ];
  for (const [herald, reason] of cases) {
    await refused(t, auth, await sign(claims({ herald }), hmacKey()), `token is invalid: ${reason}`);
  }
});

test("strings that are not tokens are refused without echoing them", async (t) => {
  const auth = await hs();
  await refused(t, auth, "", "token is empty");
  await refused(t, auth, "not-a-jwt", "token is malformed");
  await refused(t, auth, "a.b.c", "token is malformed");
  await refused(t, auth, "x".repeat(16 * 1024 + 1), "token is longer than 16384 characters");
  const payloadOnly = Buffer.from(JSON.stringify(claims())).toString("base64url");
  await refused(t, auth, `${payloadOnly}.${payloadOnly}.sig`, "token is malformed");
});

test("with no key configured every token is refused, clearly", async (t) => {
  const auth = await createAuthenticator({});
  await refused(t, auth, await sign(claims(), hmacKey()), "no token verification key is configured");
  t.is(auth.anonymous(), null);
  t.is(auth.verifyApiKey("anything"), null);
  auth.close();
});
