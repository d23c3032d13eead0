// Backend.read over JetStream: history of one topic with a sound `recovered` flag.
import { BackendUnavailableError, type ReadFrom, type ReadResult, type StoredMessage } from "../backend.js";
import type { ReadMessage } from "./codec.js";
import type { StreamReader } from "./reader.js";

const CATCH_UP_ATTEMPTS = 40;
const CATCH_UP_PAUSE_MS = 25;

export async function readHistory(
  reader: StreamReader,
  epoch: string,
  topic: string,
  from: ReadFrom,
  limit: number,
): Promise<ReadResult> {
  const count = Math.max(0, Math.floor(limit));
  // "No message" from a replica that lags would be taken for an empty topic: the leader decides.
  const newest =
    (await reader.last(topic)) ?? (reader.replicated ? await reader.last(topic, true) : undefined);
  let head = newest?.seq ?? 0;
  if ("last" in from) {
    const messages = await lastMessages(reader, topic, newest, Math.max(0, Math.floor(from.last)));
    return { epoch, head, recovered: true, messages: messages.slice(0, count) };
  }
  const after = from.after;
  // The head itself: nothing follows it (a head of 0 says nothing: see untouchedSince).
  if (after === head && head > 0) return { epoch, head, recovered: true, messages: [] };
  if (after > head) {
    // Direct gets are answered by any replica: one that lags may not have the client's position
    // yet (it came from an edge fed by a faster one). The leader's head decides.
    head = await reader.leaderHead(topic);
    // Beyond the head is not a position of this topic: answered without reading a page.
    if (after > head) return { epoch, head, recovered: false, messages: [] };
    if (after === head) return { epoch, head, recovered: true, messages: [] };
  }
  if (head === 0)
    return { epoch, head, recovered: after === 0 && (await reader.untouchedSince(0)), messages: [] };
  // The first message after `after` decides (one direct get); the page is read only when it can
  // be delivered: a continuation, or the oldest retained messages when asked for.
  const [first] = await readRun(reader, topic, after, 1, head);
  // Continuity is proven by equality only (docs/design.md#why-continuity-is-proven-by-equality-only): the first retained message after `after`
  // was stored when `after` was the topic's last seq (Herald-Prev, checked by JetStream through
  // Nats-Expected-Last-Subject-Sequence). A smaller Herald-Prev proves nothing: a topic that
  // retention emptied is stored on with Herald-Prev 0, whatever it had before. And Herald-Prev 0
  // itself is ambiguous in the same way: at position 0 it proves continuity only while the stream
  // never removed a message.
  const recovered =
    first !== undefined && first.prev === after && (after > 0 || (await reader.untouchedSince(0)));
  if (count === 0 || (!recovered && !from.orOldest)) return { epoch, head, recovered, messages: [] };
  const found = recovered
    ? [first, ...(await readRun(reader, topic, first.seq, count - 1, head))]
    : await readRun(reader, topic, 0, count, head);
  return { epoch, head, recovered, messages: chain(found, recovered ? after : (found[0]?.prev ?? 0)) };
}

/**
 * Up to `count` retained messages after `start` and through `head`. Direct gets are answered by
 * any replica: one that is behind the one that told the head ends the run early. Read on (briefly)
 * until the head, so the result never claims more than it has. A run also ends early when
 * retention removed the rest after the head was read: the leader's head of the topic tells which
 * (it only falls when messages leave), and a removed message is not waited for.
 */
async function readRun(
  reader: StreamReader,
  topic: string,
  start: number,
  count: number,
  head: number,
): Promise<ReadMessage[]> {
  if (count <= 0) return [];
  const found = await reader.after(topic, start, count, head);
  const end = () => found.at(-1)?.seq ?? start;
  let through = head;
  for (let attempt = 1; found.length < count && end() < through; attempt++) {
    through = Math.min(through, await reader.leaderHead(topic));
    if (end() >= through) break;
    if (attempt > CATCH_UP_ATTEMPTS)
      throw new BackendUnavailableError(
        `JetStream replicas of ${topic} did not reach seq ${through} in time`,
      );
    await new Promise((resolve) => setTimeout(resolve, CATCH_UP_PAUSE_MS));
    found.push(...(await reader.after(topic, end(), count - found.length, through)));
  }
  return found;
}

async function lastMessages(
  reader: StreamReader,
  topic: string,
  newest: ReadMessage | undefined,
  k: number,
): Promise<StoredMessage[]> {
  const messages = await reader.lastN(topic, newest, k);
  return chain(messages, messages[0]?.prev ?? 0);
}

/**
 * The messages of a run are consecutive in their topic (each was found as the next retained one
 * after the one before, and retention only removes a topic's oldest): each prev is the seq before
 * it; the first one's prev is given.
 */
function chain(messages: ReadMessage[], firstPrev: number): StoredMessage[] {
  let prev = firstPrev;
  return messages.map((message) => {
    const stored = { ...message, prev };
    prev = message.seq;
    return stored;
  });
}
