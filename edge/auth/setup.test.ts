// API keys, anonymous access, and key configuration that can never work (refused at start).
import test from "ava";
import { generateKeyPairSync } from "node:crypto";
import { generateKeyPair, exportPKCS8, exportSPKI } from "jose";
import { ConfigError } from "../../shared/config.js";
import { createAuthenticator } from "./index.js";

test("API keys grant publish and read on everything; unknown keys get nothing", async (t) => {
  const auth = await createAuthenticator({ apiKeys: ["first-key-0123456789", "second-key-abcdefgh"] });
  t.deepEqual(auth.verifyApiKey("first-key-0123456789"), {
    subject: "api-key:0",
    subscribe: [">"],
    publish: [">"],
    expiresAt: null,
  });
  t.deepEqual(auth.verifyApiKey("second-key-abcdefgh"), {
    subject: "api-key:1",
    subscribe: [">"],
    publish: [">"],
    expiresAt: null,
  });
  for (const wrong of [
    "",
    "first-key",
    "first-key-0123456789 ",
    "FIRST-KEY-0123456789",
    "second-key-abcdefgh\n",
    "x".repeat(100_000),
  ]) {
    t.is(auth.verifyApiKey(wrong), null, JSON.stringify(wrong.slice(0, 40)));
  }
});

test("without API keys configured no key is accepted", async (t) => {
  const auth = await createAuthenticator({});
  t.is(auth.verifyApiKey(""), null);
  t.is(auth.verifyApiKey("undefined"), null);
});

test("anonymous access: subscribe to anything, publish nothing, only when allowed", async (t) => {
  const on = await createAuthenticator({ allowAnonymous: true });
  t.deepEqual(on.anonymous(), { subject: "anonymous", subscribe: [">"], publish: [], expiresAt: null });
  t.is((await createAuthenticator({ allowAnonymous: false })).anonymous(), null);
  t.is((await createAuthenticator({})).anonymous(), null);
});

test("anonymous publishing (the demo page) only with HERALD_ANONYMOUS_PUBLISH and anonymous access", async (t) => {
  const demo = await createAuthenticator({ allowAnonymous: true, anonymousPublish: true });
  t.deepEqual(demo.anonymous(), { subject: "anonymous", subscribe: [">"], publish: [">"], expiresAt: null });
  t.is((await createAuthenticator({ allowAnonymous: false, anonymousPublish: true })).anonymous(), null);
});

async function configProblem(
  config: Parameters<typeof createAuthenticator>[0],
): Promise<string[] | undefined> {
  try {
    await createAuthenticator(config);
    return undefined;
  } catch (error) {
    return error instanceof ConfigError ? error.problems : [`not a ConfigError: ${String(error)}`];
  }
}

test("public keys that can never verify anything are refused at start", async (t) => {
  const rsa = await generateKeyPair("RS256", { extractable: true });
  t.deepEqual(await configProblem({ jwtPublicKey: await exportPKCS8(rsa.privateKey) }), [
    "HERALD_JWT_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----, SPKI)",
  ]);
  t.deepEqual(
    await configProblem({ jwtPublicKey: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----" }),
    ["HERALD_JWT_PUBLIC_KEY could not be parsed as a PEM public key (SPKI)"],
  );
  // jose refuses to make a weak key, so Node makes it.
  const short = generateKeyPairSync("rsa", { modulusLength: 1024 })
    .publicKey.export({ type: "spki", format: "pem" })
    .toString();
  t.deepEqual(await configProblem({ jwtPublicKey: short }), [
    "HERALD_JWT_PUBLIC_KEY is an RSA key shorter than 2048 bits",
  ]);
  const p384 = await generateKeyPair("ES384", { extractable: true });
  t.deepEqual(await configProblem({ jwtPublicKey: await exportSPKI(p384.publicKey) }), [
    "HERALD_JWT_PUBLIC_KEY must be an RSA (RS256) or P-256 EC (ES256) key, got ec secp384r1",
  ]);
  const ed = await generateKeyPair("EdDSA", { extractable: true });
  t.deepEqual(await configProblem({ jwtPublicKey: await exportSPKI(ed.publicKey) }), [
    "HERALD_JWT_PUBLIC_KEY must be an RSA (RS256) or P-256 EC (ES256) key, got ed25519",
  ]);
});

test("a JWKS URL that is not http(s) is refused at start", async (t) => {
  t.deepEqual(await configProblem({ jwksUrl: "keys.json" }), [
    'HERALD_JWKS_URL must be an absolute http(s) URL, got "keys.json"',
  ]);
  t.deepEqual(await configProblem({ jwksUrl: "file:///etc/keys.json" }), [
    'HERALD_JWKS_URL must be an http(s) URL, got "file:///etc/keys.json"',
  ]);
});
