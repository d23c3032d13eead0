// The HTTP API as tests use it: publishing (one message or a batch) and reading a topic's stored
// history over real HTTP, with the edge's error body in the failure when it refuses.
import type { HistoryResponse, PublishResult } from "../../protocol/index.js";
import { sleep, waitFor } from "./wait.js";

export interface PublishItem {
  readonly topic: string;
  readonly data: unknown;
  readonly msgId?: string;
}

/** What the edge answered, whatever it was. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  /** The parsed JSON body, or the text when it is not JSON. */
  readonly body: unknown;
}

const authorization = (bearer: string | undefined): Record<string, string> =>
  bearer === undefined ? {} : { authorization: `Bearer ${bearer}` };

async function answerOf(response: Response): Promise<HttpAnswer> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: the text itself is the answer.
  }
  return { status: response.status, headers: response.headers, body };
}

/** POST /v1/publish with any JSON body and headers, answering whatever the edge said. */
export async function postPublish(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const response = await fetch(`${url}/v1/publish`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return answerOf(response);
}

/**
 * Publishes one message, or a batch, with `bearer` (an API key or a token; none by default) and
 * answers the edge's results. Throws with the edge's status and body unless it answers 200.
 */
export async function publish(url: string, item: PublishItem, bearer?: string): Promise<PublishResult>;
export async function publish(
  url: string,
  items: readonly PublishItem[],
  bearer?: string,
): Promise<PublishResult[]>;
export async function publish(
  url: string,
  body: PublishItem | readonly PublishItem[],
  bearer?: string,
): Promise<PublishResult | PublishResult[]> {
  const answer = await postPublish(url, body, authorization(bearer));
  if (answer.status !== 200) {
    throw new Error(`publish refused with HTTP ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body as PublishResult | PublishResult[];
}

/**
 * Publishes with a msgId and retries until an edge answers, so a publisher running across an edge
 * restart stores each message exactly once (the msgId dedupes a retry whose first try was stored).
 */
export async function publishUntilStored(
  url: () => string,
  item: PublishItem & { readonly msgId: string },
  bearer?: string,
  timeoutMs = 60_000,
): Promise<PublishResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await publish(url(), item, bearer);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

/** GET /v1/topics/:topic/messages; throws with the edge's status and body unless it answers 200. */
export async function history(
  url: string,
  topic: string,
  query: { after?: number; limit?: number; bearer?: string } = {},
): Promise<HistoryResponse> {
  const { after = 0, limit = 1000, bearer } = query;
  const response = await fetch(
    `${url}/v1/topics/${encodeURIComponent(topic)}/messages?after=${after}&limit=${limit}`,
    { headers: authorization(bearer) },
  );
  const answer = await answerOf(response);
  if (answer.status !== 200) {
    throw new Error(`history refused with HTTP ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body as HistoryResponse;
}

/** Every stored message of `topic` (up to 1000), oldest first. */
export async function storedMessages(
  url: string,
  topic: string,
  bearer?: string,
): Promise<HistoryResponse["messages"]> {
  return (await history(url, topic, { bearer })).messages;
}

/** from, from + 1, ..., from + n - 1 */
/**
 * Publishes { n } for n = 1..total through `url()`, each stored once (publishUntilStored with the
 * msgId `<topic>-<n>`, so it goes on across an edge restart), and runs `midway` (a restart, a drain)
 * once a third of them are stored, while the publishing goes on.
 */
export async function publishAcross(
  url: () => string,
  total: number,
  topicOf: (n: number) => string,
  bearer: string,
  midway: () => Promise<void>,
): Promise<void> {
  let stored = 0;
  const publishing = (async () => {
    for (const n of range(total)) {
      const topic = topicOf(n);
      await publishUntilStored(url, { topic, data: { n }, msgId: `${topic}-${n}` }, bearer);
      stored = n;
    }
  })();
  await waitFor("a third of the stream stored", () => stored >= total / 3);
  await midway();
  await publishing;
}

export function range(n: number, from = 1): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}
