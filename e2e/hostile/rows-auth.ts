// Hostile credentials on the WebSocket: forged, expired and wrongly signed tokens, `alg: none`,
// the RSA public key used as an HMAC secret, rights smuggled through __proto__, frames before auth,
// refreshes that lose rights or change subject, and expiry by timer.
import { signToken } from "../harness/tokens.js";
import { forgedTokens, tokenOfLength } from "./hostile-tokens.js";
import { closeOfToken, openClient, row, type HostileContext, type Row } from "./row.js";
import { encodeFrame, Opcode, RawWebSocket } from "./raw-socket.js";

const unauthenticated = (reason: string) => ({ code: 4001, reason });
const SIGNATURE = unauthenticated("token signature is invalid");
const ALGORITHM = unauthenticated("token algorithm is not accepted");

/** A token on the upgrade (`?token=`): refused tokens still upgrade, then close 4001 with the reason. */
const upgradeToken = (
  name: string,
  token: (ctx: HostileContext) => string | Promise<string>,
  expect: unknown,
): Row => row(name, expect, async (ctx) => closeOfToken(ctx, await token(ctx)));

/** A token in the first frame (auth) of a connection without ?token=. */
const authFrame = (
  name: string,
  token: (ctx: HostileContext) => string | Promise<string>,
  expect: unknown,
): Row =>
  row(name, expect, async (ctx) => {
    const client = await openClient(ctx, null);
    client.send({ op: "auth", token: await token(ctx), id: "a" });
    return client.waitForClose();
  });

/** Connects with a token whose claims jose accepts but that carries no real rights; tries to use them. */
const noRightsGained = (name: string, token: () => string): Row =>
  row(
    name,
    [
      { op: "err", id: 1, code: "forbidden", message: 'not allowed to subscribe to "a.b"' },
      { op: "err", id: 2, code: "forbidden", message: 'not allowed to publish to "a.b"' },
    ],
    async (ctx) => {
      const client = await openClient(ctx, token());
      return [
        await client.request({ op: "sub", topic: "a.b", id: 1 }),
        await client.request({ op: "pub", topic: "a.b", data: 1, id: 2 }),
      ];
    },
  );

export const authRows: Row[] = [
  upgradeToken("token signed with another secret", () => forgedTokens.otherSecret(), SIGNATURE),
  upgradeToken("expired token", () => forgedTokens.expired(), unauthenticated("token has expired")),
  upgradeToken("alg: none", () => forgedTokens.algNone(), ALGORITHM),
  upgradeToken("payload swapped under a valid signature", () => forgedTokens.payloadSwapped(), SIGNATURE),
  upgradeToken("RS256 token signed with another RSA key", (ctx) => ctx.keys.wrongRsaKey, SIGNATURE),
  upgradeToken(
    "HS256 token signed with the RSA public key as the HMAC secret",
    (ctx) => ctx.keys.publicKeyAsHmacSecret,
    SIGNATURE,
  ),
  upgradeToken("ES256 token (algorithm not configured)", (ctx) => ctx.keys.es256, ALGORITHM),
  upgradeToken(
    "token without exp",
    () => forgedTokens.noExp(),
    unauthenticated('token is invalid: "exp" claim is missing'),
  ),
  upgradeToken(
    "token without sub",
    () => forgedTokens.noSub(),
    unauthenticated('token is invalid: "sub" claim is missing'),
  ),
  upgradeToken(
    "token with an invalid pattern",
    () => forgedTokens.badPattern(),
    unauthenticated(`token is invalid: "herald.sub"[0]: '>' may only be the last token of a pattern`),
  ),
  upgradeToken(
    "token with __proto__ inside the herald claim",
    () => forgedTokens.protoInHerald(),
    unauthenticated(`token is invalid: "herald" claim has an unknown field '__proto__'`),
  ),
  upgradeToken(
    "header whose __proto__ claims HS256 over alg: none",
    () => forgedTokens.protoInHeader(),
    ALGORITHM,
  ),
  upgradeToken(
    "token not valid yet (nbf in the future)",
    () => forgedTokens.notYetValid(),
    unauthenticated("token is not valid yet (nbf is in the future)"),
  ),
  upgradeToken(
    "token whose exp is 1e999 (read as Infinity: it would never expire)",
    () => forgedTokens.expInfinite(),
    unauthenticated('token is invalid: "exp" claim must be a finite time in seconds, at most 9007199254740'),
  ),
  upgradeToken(
    "token whose exp is a string",
    () => forgedTokens.expAsString(),
    unauthenticated('token is invalid: "exp" claim is invalid'),
  ),
  upgradeToken(
    "token with 101 patterns",
    () => forgedTokens.tooManyPatterns(),
    unauthenticated('token is invalid: "herald.sub" claim has more than 100 patterns'),
  ),
  upgradeToken("empty ?token=", () => "", unauthenticated("token is empty")),
  upgradeToken("not a JWT at all", () => forgedTokens.notAJwt(), unauthenticated("token is malformed")),
  noRightsGained("token with rights only under a top-level __proto__ gains none", forgedTokens.protoAtTop),
  noRightsGained(
    "token with rights only under constructor.prototype gains none",
    forgedTokens.constructorAtTop,
  ),
  authFrame("forged token in the auth frame", () => forgedTokens.otherSecret(), SIGNATURE),
  authFrame(
    "token over 16 KiB in the auth frame",
    () => forgedTokens.oversized(),
    unauthenticated("token is longer than 16384 characters"),
  ),
  row(
    "a valid token of the longest length (16 KiB) on ?token= is accepted, not refused with 431",
    { op: "ack", id: "long" },
    async (ctx) => (await openClient(ctx, tokenOfLength(16 * 1024))).request({ op: "ping", id: "long" }),
  ),
  upgradeToken(
    "a token one character longer on ?token= is refused for its length (4001), not 431",
    () => tokenOfLength(16 * 1024 + 1),
    unauthenticated("token is longer than 16384 characters"),
  ),
  row("valid RS256 token is accepted (the key the edge pins works)", { op: "ack", id: "p" }, async (ctx) =>
    (await openClient(ctx, ctx.keys.validRs256)).request({ op: "ping", id: "p" }),
  ),

  row(
    "token valid for 30,000 years keeps its connection (no timer overflow)",
    { op: "ack", id: "later" },
    async (ctx) => {
      const client = await openClient(ctx, forgedTokens.farFuture());
      // A timer armed beyond 2^31-1 ms would fire at once (and warn on stderr): outlive a heartbeat.
      await new Promise((resolve) => client.ws.once("ping", resolve));
      return client.request({ op: "ping", id: "later" });
    },
  ),
  row(
    "first frame is not auth (no token, anonymous off)",
    unauthenticated(
      "authenticate first: the first frame must be an auth frame; accepted: JWTs (HS256, RS256)",
    ),
    async (ctx) => {
      const client = await openClient(ctx, null);
      client.send({ op: "sub", topic: "a.b", id: 1 });
      return client.waitForClose();
    },
  ),
  row(
    "no auth frame before the auth timeout",
    unauthenticated("no auth frame within 1500 ms; accepted: JWTs (HS256, RS256)"),
    async (ctx) => {
      const client = await openClient(ctx, null);
      return client.waitForClose();
    },
  ),
  row(
    "65 frames queued behind the first auth frame",
    { code: 4009, reason: "more than 64 frames sent before the auth frame was answered" },
    async (ctx) => {
      const ws = await RawWebSocket.open(ctx.scope, ctx.edge.port);
      const frames = [
        `{"op":"auth","token":"${ctx.token}"}`,
        ...Array.from({ length: 65 }, (_, i) => `{"op":"ping","id":${i}}`),
      ];
      ws.connection.write(
        Buffer.concat(frames.map((payload) => encodeFrame({ opcode: Opcode.text, payload }))),
      );
      return ws.waitForClose();
    },
  ),

  row(
    "two 40 KiB frames queued behind the first auth frame (more than one frame's worth of bytes held)",
    { code: 4009, reason: "more than 65536 bytes sent before the auth frame was answered" },
    async (ctx) => {
      const ws = await RawWebSocket.open(ctx.scope, ctx.edge.port);
      const padded = (id: number) => `{"op":"ping","id":${id},"pad":"${"p".repeat(40 * 1024)}"}`;
      const frames = [`{"op":"auth","token":"${ctx.token}"}`, padded(1), padded(2)];
      ws.connection.write(
        Buffer.concat(frames.map((payload) => encodeFrame({ opcode: Opcode.text, payload }))),
      );
      return ws.waitForClose();
    },
  ),

  row(
    "refresh with fewer rights ends the subscriptions no longer allowed",
    {
      ended: {
        op: "err",
        id: "sub-b",
        code: "forbidden",
        message: 'subscription to "rights.b" ended: the refreshed token does not allow it',
      },
      ack: { op: "ack", id: "refresh" },
      delivered: { "rights.a": [2], "rights.b": [] },
    },
    async (ctx) => {
      const client = await openClient(
        ctx,
        await signToken({ subject: "refresher", subscribe: ["rights.a", "rights.b"] }),
      );
      await client.subscribe("rights.a", undefined, "sub-a");
      await client.subscribe("rights.b", undefined, "sub-b");
      const ack = await client.request({
        op: "auth",
        token: await signToken({ subject: "refresher", subscribe: ["rights.a"] }),
        id: "refresh",
      });
      const ended = await client.waitFor((f) => f.op === "err" && f.id === "sub-b", "the end of sub-b");
      const body = [
        { topic: "rights.a", data: 2 },
        { topic: "rights.b", data: 2 },
      ];
      const published = await fetch(`${ctx.edge.url}/v1/publish`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${ctx.apiKey}` },
        body: JSON.stringify(body),
      });
      if (published.status !== 200) throw new Error(`publish ${published.status}`);
      await client.waitForMessages("rights.a", 1);
      await client.request({ op: "ping", id: "barrier" });
      return {
        ended,
        ack,
        delivered: {
          "rights.a": client.messages("rights.a").map((m) => m.data),
          "rights.b": client.messages("rights.b").map((m) => m.data),
        },
      };
    },
  ),
  row(
    "refresh with a token for another subject",
    { code: 4003, reason: "a refreshed token must be for the same subject as the connection's token" },
    async (ctx) => {
      const client = await openClient(ctx, await signToken({ subject: "alice" }));
      client.send({ op: "auth", token: await signToken({ subject: "mallory" }), id: "r" });
      return client.waitForClose();
    },
  ),
  row(
    "refresh with an expired token is refused; the connection stays",
    { reply: { op: "err", id: "r", code: "unauthenticated", message: "token has expired" }, open: true },
    async (ctx) => {
      const client = await openClient(ctx);
      const reply = await client.request({ op: "auth", token: await forgedTokens.expired(), id: "r" });
      await client.request({ op: "ping", id: "still-open" });
      return { reply, open: client.closed === undefined };
    },
  ),
  row(
    "token reaching exp without refresh: closed 4001 by timer, with no frame sent",
    { close: unauthenticated("token expired"), notBeforeExp: true },
    async (ctx) => {
      const token = await signToken({ subject: "short-lived", expiresIn: 5 });
      const expMs =
        (JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { exp: number }).exp * 1000;
      const client = await openClient(ctx, token);
      const close = await client.waitForClose();
      // The edge's clock is this machine's clock; timers may fire a millisecond early.
      return { close, notBeforeExp: Date.now() >= expMs - 5 };
    },
  ),
];
