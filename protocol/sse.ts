// herald.v1 over Server-Sent Events (GET /v1/sse): what the edge and every client agree on, defined
// once. docs/protocol.md "Server-Sent Events" explains it.
//
// One stream carries several topics, listed in its URL (`topic=a&topic=b`, or `topic=a,b`). Each
// event that moves a topic's position (a `msg`, a `subok`) has an SSE id: the stream position, the
// position of EVERY topic of the stream, so that the Last-Event-ID an EventSource sends when it
// reconnects resumes each topic exactly where it stood. A stream position lists one entry per topic,
// in the order of the URL, separated by commas:
//   - ""            no position yet (the topic starts as `from` says);
//   - "<seq>@<epoch>" after seq in that epoch (the epoch percent-encoded);
//   - "<seq>"       after seq in the epoch of the nearest entry before it that names one.
// e.g. "41@Ab3xQ,17,,5@Zz9q": a after 41 and b after 17 in epoch Ab3xQ, c none yet, d after 5 in Zz9q.

export const SSE_PATH = "/v1/sse";

/** The SSE event type of each edge frame other than `msg` (msg frames are unnamed "message" events). */
export const SSE_CLOSE_EVENT = "close";

export type { SseClose } from "./frames.js";

export interface StreamPositionEntry {
  readonly epoch: string;
  readonly seq: number;
}

/** The stream position of `entries` (one per topic of the stream, undefined: none yet). */
export function encodeStreamPosition(entries: readonly (StreamPositionEntry | undefined)[]): string {
  let epoch: string | undefined;
  return entries
    .map((entry) => {
      if (entry === undefined) return "";
      if (entry.epoch === epoch) return String(entry.seq);
      epoch = entry.epoch;
      return `${entry.seq}@${encodeURIComponent(entry.epoch)}`;
    })
    .join(",");
}

const ENTRY = /^(\d{1,16})(?:@([^,@]+))?$/;

/**
 * The entries of a stream position for a stream of `topics` topics, or undefined when `text` is not
 * one (malformed, another number of topics, a seq beyond the safe integers, an entry without epoch).
 */
export function decodeStreamPosition(
  text: string,
  topics: number,
): (StreamPositionEntry | undefined)[] | undefined {
  const parts = text.split(",");
  if (parts.length !== topics) return undefined;
  const entries: (StreamPositionEntry | undefined)[] = [];
  let epoch: string | undefined;
  for (const part of parts) {
    if (part === "") {
      entries.push(undefined);
      continue;
    }
    const match = ENTRY.exec(part);
    if (!match) return undefined;
    const seq = Number(match[1]);
    if (!Number.isSafeInteger(seq)) return undefined;
    if (match[2] !== undefined) {
      try {
        epoch = decodeURIComponent(match[2]);
      } catch {
        return undefined;
      }
    }
    if (epoch === undefined || epoch.length === 0 || epoch.length > 128) return undefined;
    entries.push({ epoch, seq });
  }
  return entries;
}
