// Shared by the SDK's Node tests and the browser tests: publishing over the real HTTP API, reading
// a topic's stored history, HS256 tokens, and waiting for a condition with a deadline (never
// sleep-and-hope on a loaded machine).
import { SignJWT } from "jose";
import type { HistoryResponse, PublishResult } from "../protocol/index.js";

export const TEST_API_KEY = "client-test-api-key-0123456789";
export const TEST_JWT_SECRET = "client-tests-hs256-secret-of-at-least-32-chars";

// Re-exported so the SDK and browser tests keep one import for their helpers.
export { waitFor } from "../e2e/harness/wait.js";

/** POST /v1/publish with the test API key; throws with the edge's error body on refusal. */
export async function publishHttp(
  baseUrl: string,
  topic: string,
  data: unknown,
  msgId?: string,
): Promise<PublishResult> {
  const response = await fetch(`${baseUrl}/v1/publish`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TEST_API_KEY}` },
    body: JSON.stringify(msgId === undefined ? { topic, data } : { topic, data, msgId }),
  });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`publish refused with HTTP ${response.status}: ${body}`);
  return JSON.parse(body) as PublishResult;
}

/**
 * Publishes with a msgId and retries until an edge answers, so a publisher running across an edge
 * restart stores each message exactly once (the msgId dedupes a retry whose first try was stored).
 */
export async function publishUntilStored(
  baseUrl: () => string,
  topic: string,
  data: unknown,
  msgId: string,
  timeoutMs = 60_000,
): Promise<PublishResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await publishHttp(baseUrl(), topic, data, msgId);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Every stored message of `topic` (the HTTP history API), oldest first. */
export async function storedMessages(baseUrl: string, topic: string): Promise<HistoryResponse["messages"]> {
  const response = await fetch(
    `${baseUrl}/v1/topics/${encodeURIComponent(topic)}/messages?after=0&limit=1000`,
    {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    },
  );
  const body = await response.text();
  if (response.status !== 200) throw new Error(`history refused with HTTP ${response.status}: ${body}`);
  return (JSON.parse(body) as HistoryResponse).messages;
}

/** An HS256 token for HERALD_JWT_SECRET=TEST_JWT_SECRET, valid for `lifetimeSeconds` from now. */
export async function signToken(options: {
  subject?: string;
  lifetimeSeconds: number;
  sub?: string[];
  pub?: string[];
}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ herald: { sub: options.sub ?? [">"], pub: options.pub ?? [">"] } })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(options.subject ?? "client-test")
    .setIssuedAt(now)
    .setExpirationTime(now + options.lifetimeSeconds)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

/** The environment of a test edge that accepts the test API key and test tokens. */
export const TEST_EDGE_ENV: Record<string, string> = {
  HERALD_API_KEYS: TEST_API_KEY,
  HERALD_JWT_SECRET: TEST_JWT_SECRET,
  HERALD_LOG_LEVEL: "warn",
};

/** 1..n */
export function range(n: number, from = 1): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}
