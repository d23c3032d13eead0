// Keys from a JWKS URL, served by a real HTTP server on 127.0.0.1: cached, refetched on an unknown
// kid, rotated without a restart, and a key server that fails gives a clear refusal, not a crash.
import test, { type ExecutionContext } from "ava";
import { AuthError, createAuthenticator, type Authenticator, type JwksOptions } from "./index.js";
import { startJwksServer } from "../../e2e/harness/jwks-server.js";
import { claims, hmacKey, keyPair, sign, TEST_JWT_SECRET } from "../../e2e/harness/tokens.js";

const rsa = await keyPair("RS256", "rsa-1");
const ec = await keyPair("ES256", "ec-1");

async function setup(t: ExecutionContext, options: JwksOptions = { jwksCooldownMs: 0 }) {
  const server = await startJwksServer([rsa.jwk, ec.jwk]);
  t.teardown(() => server.close());
  const auth = await createAuthenticator({ jwksUrl: server.url }, options);
  t.teardown(() => auth.close());
  return { server, auth };
}

async function refused(t: ExecutionContext, auth: Authenticator, token: string, message: string) {
  const error = await t.throwsAsync(auth.verifyToken(token), { instanceOf: AuthError });
  t.deepEqual({ code: error?.code, message: error?.message }, { code: "unauthenticated", message });
}

test("RS256 and ES256 tokens are verified with keys from the JWKS, fetched once and cached", async (t) => {
  const { server, auth } = await setup(t, {});
  t.is(server.fetches(), 0, "nothing is fetched before the first token");
  for (let i = 0; i < 5; i++) {
    t.is((await auth.verifyToken(await sign(claims(), rsa))).subject, "user-1");
    t.is((await auth.verifyToken(await sign(claims(), ec))).subject, "user-1");
  }
  t.is(server.fetches(), 1);
});

test("an unknown kid triggers a refetch that picks up a newly published key", async (t) => {
  const { server, auth } = await setup(t);
  await auth.verifyToken(await sign(claims(), rsa));
  const added = await keyPair("ES256", "ec-2");
  server.setKeys([rsa.jwk, ec.jwk, added.jwk]);
  t.is((await auth.verifyToken(await sign(claims(), added))).subject, "user-1");
  t.is(server.fetches(), 2);
});

test("keys rotate without a restart: the new key is accepted, the retired one refused", async (t) => {
  const { server, auth } = await setup(t);
  const old = await sign(claims(), rsa);
  await auth.verifyToken(old);
  const next = await keyPair("RS256", "rsa-2");
  server.setKeys([next.jwk]);
  t.is((await auth.verifyToken(await sign(claims(), next))).subject, "user-1");
  await refused(t, auth, old, "no key of the key set (JWKS) matches the token");
});

test("shipped defaults: a key published within the cooldown after a fetch is accepted (later), not refused", async (t) => {
  const { server, auth } = await setup(t, {});
  await auth.verifyToken(await sign(claims(), rsa));
  const next = await keyPair("ES256", "ec-next");
  server.setKeys([rsa.jwk, ec.jwk, next.jwk]);
  // Signed at once, so it arrives well within the cooldown that followed the first fetch.
  t.is((await auth.verifyToken(await sign(claims(), next))).subject, "user-1");
  t.is(server.fetches(), 2);
});

test("shipped defaults: a flood of unknown kids within the cooldown costs one fetch per cooldown", async (t) => {
  const { server, auth } = await setup(t, {});
  await auth.verifyToken(await sign(claims(), rsa));
  const next = await keyPair("RS256", "rsa-next");
  server.setKeys([rsa.jwk, ec.jwk, next.jwk]);
  const random = await Promise.all(
    Array.from({ length: 20 }, (_, i) => sign(claims(), rsa, { kid: `random-${i}` })),
  );
  const [accepted] = await Promise.all([
    auth.verifyToken(await sign(claims(), next)),
    ...random.map((token) => refused(t, auth, token, "no key of the key set (JWKS) matches the token")),
  ]);
  t.is(accepted.subject, "user-1");
  t.is(server.fetches(), 2, "one refetch shared by the 21 tokens with kids not yet known");
  // The refetch started a new cooldown: the next unknown kid waits for it and costs one more fetch.
  await refused(
    t,
    auth,
    await sign(claims(), rsa, { kid: "random-late" }),
    "no key of the key set (JWKS) matches the token",
  );
  t.is(server.fetches(), 3);
});

test("a token whose kid is unknown right after a fetch made for it is refused without waiting for another", async (t) => {
  const { server, auth } = await setup(t, {});
  await refused(
    t,
    auth,
    await sign(claims(), rsa, { kid: "never-published" }),
    "no key of the key set (JWKS) matches the token",
  );
  t.is(server.fetches(), 1);
});

test("a token signed by a key not in the set, under a known kid, is refused", async (t) => {
  const { auth } = await setup(t);
  const impostor = await keyPair("RS256", rsa.kid);
  await refused(t, auth, await sign(claims(), impostor), "token signature is invalid");
});

test("HS256 tokens are not accepted with a JWKS (no HMAC with a public key)", async (t) => {
  const { auth } = await setup(t);
  const token = await sign(claims(), new TextEncoder().encode(JSON.stringify(rsa.jwk)), {
    alg: "HS256",
    kid: rsa.kid,
  });
  await refused(t, auth, token, "token algorithm is not accepted");
});

test("a JWKS next to an HMAC secret: each token goes to its own key", async (t) => {
  const server = await startJwksServer([rsa.jwk]);
  t.teardown(() => server.close());
  const auth = await createAuthenticator({ jwksUrl: server.url, jwtSecret: TEST_JWT_SECRET });
  t.is((await auth.verifyToken(await sign(claims(), hmacKey()))).subject, "user-1");
  t.is((await auth.verifyToken(await sign(claims(), rsa))).subject, "user-1");
});

test("a key server that is down, failing or hanging gives a clear refusal, and recovery needs no restart", async (t) => {
  const { server, auth } = await setup(t, { jwksCooldownMs: 0, jwksTimeoutMs: 2_000 });
  const token = await sign(claims(), rsa);
  server.setBehaviour("error");
  await refused(t, auth, token, "the key set (JWKS) server answered with an error or not with JSON");
  server.setBehaviour("hang");
  await refused(t, auth, token, "the key set (JWKS) server did not answer in time");
  server.setBehaviour("serve");
  t.is((await auth.verifyToken(token)).subject, "user-1");
});

test("a key server that cannot be reached gives a clear refusal", async (t) => {
  const gone = await startJwksServer([]);
  const url = gone.url;
  await gone.close();
  const auth = await createAuthenticator({ jwksUrl: url }, { jwksTimeoutMs: 2_000 });
  await refused(t, auth, await sign(claims(), rsa), "the key set (JWKS) server could not be reached");
});

test("a key set that is not a JWKS is refused clearly", async (t) => {
  const { server, auth } = await setup(t);
  server.setKeys("nope" as never);
  await refused(t, auth, await sign(claims(), rsa), "the key set (JWKS) server returned an invalid key set");
});
