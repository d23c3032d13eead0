// Per-credential rate limits for HTTP: a bucket per credential, batches counted per message (and
// let through once when larger than the bucket), refusals with the time to wait, credentials apart.
import test from "ava";
import { CredentialLimits, DebtBucket } from "./rate-limits.js";
import { RequestError } from "./request-error.js";

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

test("a bucket admits its burst, then waits for its rate; a batch larger than the burst passes once", (t) => {
  const time = clock();
  const bucket = new DebtBucket(5, 10, time.now);
  for (let i = 0; i < 10; i++) t.is(bucket.take(1), 0);
  t.is(bucket.take(1), 1, "empty: one token comes in 0.2 s");
  time.advance(200);
  t.is(bucket.take(1), 0);
  time.advance(2000);
  t.is(bucket.take(100), 0, "full again: a batch of 100 passes");
  t.is(bucket.take(1), 19, "and is paid for: (1 + 90) / 5 s");
  time.advance(19_000);
  t.is(bucket.take(1), 0);
});

test("credentials have their own buckets; a refusal is 429 rate_limited with Retry-After", (t) => {
  const time = clock();
  const limits = new CredentialLimits(
    "publishes",
    (credential) => (credential.startsWith("api-key:") ? 100 : 5),
    time.now,
  );
  limits.take("token:alice", 10);
  const refused = t.throws(() => limits.take("token:alice"), { instanceOf: RequestError });
  t.deepEqual(
    { code: refused?.code, message: refused?.message, retryAfter: refused?.retryAfterSeconds },
    {
      code: "rate_limited",
      message: "more than 5 publishes per second for this token subject; retry after 1 s",
      retryAfter: 1,
    },
  );
  t.notThrows(() => limits.take("token:bob", 10), "another subject is not held back by alice");
  t.notThrows(() => limits.take("api-key:0", 200));
  t.throws(() => limits.take("api-key:0"), {
    message: /more than 100 publishes per second for this API key/,
  });
  limits.take("address:127.0.0.1", 20);
  t.throws(() => limits.take("address:127.0.0.1"), { message: /for this address/ });
});
