// The pure parts of the SDK: reconnect delays (full jitter under a capped exponential) and when a
// token is refreshed or replaced before connecting (read from the JWT's exp).
import test from "ava";
import { Backoff } from "./backoff.js";
import { signToken } from "../e2e/harness/tokens.js";
import { refreshDelay, tokenExpiry, TokenProvider } from "./token.js";

test("backoff: full jitter between 0 and a doubling ceiling, capped, and reset after a success", (t) => {
  const highest = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2 }, () => 0.999999);
  t.deepEqual(
    Array.from({ length: 6 }, () => highest.next()),
    [99, 199, 399, 799, 999, 999],
  );
  highest.reset();
  t.is(highest.next(), 99);
  const lowest = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2 }, () => 0);
  t.deepEqual([lowest.next(), lowest.next(), lowest.next()], [0, 0, 0]);
});

test("token: exp is read from the JWT payload; refresh comes before it, at most 30 s early", async (t) => {
  const token = await signToken({ expiresIn: 3600, publish: [">"] });
  const expiry = tokenExpiry(token)!;
  const now = Date.now();
  t.true(expiry > now + 3590_000 && expiry <= now + 3600_000);
  t.is(refreshDelay(token, now), expiry - now - 30_000);

  const short = await signToken({ expiresIn: 8, publish: [">"] });
  const shortExpiry = tokenExpiry(short)!;
  // A short-lived token is refreshed when three quarters of its remaining life are gone.
  t.is(refreshDelay(short, now), (shortExpiry - now) * 0.75);
  t.is(refreshDelay(short, shortExpiry + 5000), 0);
});

test("token: a connection is opened with the current token until three quarters of its life are gone, then with a fresh one", async (t) => {
  let fetched = 0;
  const tokens = new TokenProvider(async () => {
    fetched++;
    return signToken({ expiresIn: 8, publish: [">"] });
  });
  const first = await tokens.fetch();
  const now = Date.now();
  // exp has whole seconds: 7 to 8 s left, due after 5.25 to 6 s.
  t.is(await tokens.forConnect(now + 1000), first);
  t.is(fetched, 1);
  t.true(tokens.refreshDelay(now)! > 5000);
  // Less than a second before its exp: an edge would close the new connection with 4001 before
  // any refresh on it could land.
  const fresh = await tokens.forConnect(now + 7000);
  t.is(fetched, 2);
  t.is(fresh, tokens.current);
});

test("token: no exp, or not a JWT, means no refresh", (t) => {
  t.is(tokenExpiry("not-a-jwt"), undefined);
  t.is(tokenExpiry("a.%%%.c"), undefined);
  const payload = btoa(JSON.stringify({ sub: "x" })).replace(/=+$/, "");
  t.is(tokenExpiry(`e30.${payload}.sig`), undefined);
  t.is(refreshDelay(`e30.${payload}.sig`, Date.now()), undefined);
});
