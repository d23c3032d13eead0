// herald.v1 over Server-Sent Events (GET /v1/sse, docs/protocol.md), as a WebSocket-like object the
// client drives exactly as it drives a WebSocket: it takes herald.v1 client frames and hands up the
// edge's frames, so subscriptions, the prev chain, resume and publish retries are the same code
// whatever the transport. What differs is done here:
// - the subscriptions are the stream's URL: a `sub` or `unsub` reopens the stream (debounced, the
//   new one opened before the old one is dropped) with every topic from its own position;
// - the stream numbers its subscriptions by their place in the URL: subok and err ids are turned
//   back into the client's request ids;
// - the token goes in the Authorization header when a stream opens; a refreshed token opens a new
//   stream (its welcome is the auth frame's ack, a refusal its err);
// - `pub` is POST /v1/publish, its answer the ack (or err); a request that fails on the network
//   fails the connection, and the client re-sends the publish, with its msgId, on the next one;
// - pings are answered at once: the stream's liveness is its heartbeat comments, watched here.
// It uses fetch (browsers, Node 18+), not EventSource, to send Authorization and to see comments.
import {
  decodeStreamPosition,
  encodeStreamPosition,
  SSE_CLOSE_EVENT,
  SSE_PATH,
  type SseClose,
} from "../protocol/sse.js";
import type { ClientFrame, ErrorBody, From, RequestId } from "./wire.js";
import { checkErrorBody, checkPublishResult } from "./wire.js";
import type { WebSocketLike } from "./websocket.js";

/** A `fetch` function (the global one by default): the SSE transport's streams and publishes use it. */
export type FetchLike = typeof fetch;

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;
/** A stream that brought nothing (no event, no heartbeat comment) for this many heartbeats is dead. */
const SILENT_HEARTBEATS = 2.5;

/** HTTP refusals of a stream, as the close codes a WebSocket would have given. */
function closeCodeOf(status: number): number {
  switch (status) {
    case 401:
      return 4001;
    case 403:
      return 4003;
    case 413:
    case 429:
      return 4009;
    case 400:
      return 4400;
    default:
      return 1011;
  }
}

interface Wanted {
  /** The id of the client's latest `sub` for the topic: subok and err carry it. */
  id: RequestId | undefined;
  /** Where the topic starts in the next stream, when the client said so since the last one opened. */
  from: From | undefined;
  /** Whether `from` is the client's own word (a `sub` frame) rather than the last stream's position. */
  asked: boolean;
}

/** A token refresh waiting for its stream. */
type Refresh = { readonly id: RequestId | undefined; readonly token: string } | undefined;

interface Stream {
  readonly topics: readonly string[];
  readonly controller: AbortController;
  /** The last event id: where every topic of this stream stands. */
  lastEventId: string;
}

export class SseSocket implements WebSocketLike {
  readyState = CONNECTING;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  /** The edge's HTTP base (origin and any path prefix, no trailing slash). */
  readonly #base: string;
  readonly #fetch: FetchLike;
  #token: string | undefined;
  /** The topics the client wants, in the order it asked for them. */
  readonly #wanted = new Map<string, Wanted>();
  #stream: Stream | undefined;
  /** A new stream is being opened; changes made meanwhile open another one after it. */
  #opening = false;
  #changed = false;
  #reopenTimer: ReturnType<typeof setTimeout> | undefined;
  /** A token refresh waiting for its stream: answered by that stream's welcome, or refused. */
  #refresh: Refresh;
  #heartbeatMs: number | undefined;
  #lastActivity = Date.now();
  #watchdog: ReturnType<typeof setInterval> | undefined;

  /** `url`: the edge, http(s); `token`: the JWT to open streams with. */
  constructor(url: string, token: string | undefined, fetchImpl: FetchLike) {
    this.#base = url.replace(/\/$/, "");
    this.#token = token;
    this.#fetch = fetchImpl;
    // Like a WebSocket, it opens by itself once the caller has set its handlers.
    setTimeout(() => void this.#open(), 0);
  }

  send(text: string): void {
    if (this.readyState !== OPEN) return;
    const frame = JSON.parse(text) as ClientFrame;
    switch (frame.op) {
      case "sub":
        this.#wanted.delete(frame.topic);
        this.#wanted.set(frame.topic, { id: frame.id, from: frame.from, asked: true });
        return this.#scheduleReopen();
      case "unsub":
        this.#wanted.delete(frame.topic);
        if (frame.id !== undefined) this.#deliver({ op: "ack", id: frame.id });
        return this.#scheduleReopen();
      case "auth":
        // The token this socket opened its stream with was accepted by the edge (the stream opened).
        if (frame.token === this.#token) {
          if (frame.id !== undefined) this.#deliver({ op: "ack", id: frame.id });
          return;
        }
        this.#refresh = { id: frame.id, token: frame.token };
        return this.#scheduleReopen();
      case "ping":
        if (frame.id !== undefined) this.#deliver({ op: "ack", id: frame.id });
        return;
      case "pub":
        void this.#publish(frame);
        return;
    }
  }

  close(code = 1000, reason = ""): void {
    this.#fail(code, reason);
  }

  // ---- streams ----

  #url(topics: readonly string[]): string {
    const url = new URL(`${this.#base}${SSE_PATH}`);
    const positions = this.#stream && this.#positionsOf(this.#stream);
    for (const topic of topics) url.searchParams.append("topic", topic);
    for (const topic of topics) {
      const wanted = this.#wanted.get(topic)!;
      const from = wanted.asked ? wanted.from : (positions?.get(topic) ?? wanted.from);
      url.searchParams.append("from", fromParam(from));
    }
    return url.toString();
  }

  /** Where each topic of `stream` stood at its last event (its event id). */
  #positionsOf(stream: Stream): Map<string, From> {
    const positions = new Map<string, From>();
    const entries = decodeStreamPosition(stream.lastEventId, stream.topics.length) ?? [];
    entries.forEach((entry, i) => entry && positions.set(stream.topics[i]!, entry));
    return positions;
  }

  #scheduleReopen(): void {
    this.#changed = true;
    if (this.#opening || this.#reopenTimer !== undefined) return;
    // Changes made together (every subscription after a welcome) open one stream.
    this.#reopenTimer = setTimeout(() => {
      this.#reopenTimer = undefined;
      void this.#open();
    }, 0);
  }

  async #open(): Promise<void> {
    if (this.readyState === CLOSED) return;
    this.#opening = true;
    this.#changed = false;
    const refresh = this.#refresh;
    const token = refresh?.token ?? this.#token;
    const topics = [...this.#wanted.keys()];
    // What each topic was asked for as this stream opens; a `sub` meanwhile replaces the entry.
    const used = new Map(topics.map((topic) => [topic, this.#wanted.get(topic)]));
    const controller = new AbortController();
    let response: Response;
    try {
      response = await this.#fetch(this.#url(topics), {
        headers: {
          accept: "text/event-stream",
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        signal: controller.signal,
        cache: "no-store",
      });
    } catch (error) {
      return this.#fail(1006, `the event stream could not be opened: ${messageOf(error)}`);
    }
    this.#opening = false;
    if (this.readyState === CLOSED) return controller.abort();
    if (response.status !== 200 || response.body === null) {
      const refusal = await errorBody(response);
      if (refresh !== undefined && response.status === 401 && this.#stream !== undefined) {
        // A refused refresh leaves the stream as it is, as on a WebSocket: the old token still holds.
        this.#refresh = undefined;
        if (refresh.id !== undefined)
          this.#deliver({ op: "err", id: refresh.id, code: "unauthenticated", message: refusal.message });
        if (this.#changed) this.#scheduleReopen();
        return;
      }
      return this.#fail(closeCodeOf(response.status), refusal.message);
    }
    // The new stream replaces the old one before any of its events is read: no event of the two interleaves.
    this.#stream?.controller.abort();
    const stream: Stream = { topics, controller, lastEventId: "" };
    this.#stream = stream;
    // Positions now come from the stream, for the topics it was opened with as they were asked.
    for (const [topic, wanted] of used)
      if (this.#wanted.get(topic) === wanted && wanted) wanted.asked = false;
    if (refresh !== undefined) {
      this.#token = refresh.token;
      this.#refresh = undefined;
    }
    this.#lastActivity = Date.now();
    if (this.readyState === CONNECTING) {
      this.readyState = OPEN;
      this.onopen?.({});
    }
    if (this.#changed) this.#scheduleReopen();
    void this.#read(stream, response.body, refresh);
  }

  async #read(stream: Stream, body: ReadableStream<Uint8Array>, refresh: Refresh): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let event = "";
    let data: string[] = [];
    let close: SseClose | undefined;
    const current = () => this.#stream === stream && this.readyState === OPEN;
    const line = (text: string): void => {
      if (text === "") {
        if (data.length > 0) {
          const payload = data.join("\n");
          if (event === SSE_CLOSE_EVENT) close = JSON.parse(payload) as SseClose;
          else this.#frame(stream, event, payload, refresh);
        }
        event = "";
        data = [];
        return;
      }
      if (text.startsWith(":")) return;
      const colon = text.indexOf(":");
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? "" : text.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") data.push(value);
      else if (field === "event") event = value;
      else if (field === "id") stream.lastEventId = value;
    };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || !current()) break;
        this.#lastActivity = Date.now();
        buffer += decoder.decode(value, { stream: true });
        let newline: number;
        while ((newline = buffer.indexOf("\n")) >= 0 && current()) {
          line(buffer.slice(0, newline).replace(/\r$/, ""));
          buffer = buffer.slice(newline + 1);
        }
      }
    } catch {
      // The connection was cut, or this stream was replaced (aborted).
    }
    if (!current()) return;
    if (close) this.#fail(close.code, close.reason);
    else this.#fail(1006, "the event stream ended");
  }

  /** One event of `stream`: its frame, with the stream's request ids turned into the client's. */
  #frame(stream: Stream, event: string, text: string, refresh: Refresh): void {
    if (event === "subok" || event === "err") {
      const frame = JSON.parse(text) as { id?: unknown; topic?: string };
      const topic = typeof frame.id === "number" ? stream.topics[frame.id] : undefined;
      if (topic !== undefined) {
        const id = this.#wanted.get(topic)?.id;
        if (id === undefined) delete frame.id;
        else frame.id = id;
        text = JSON.stringify(frame);
      }
    } else if (event === "welcome") {
      const { heartbeatMs } = JSON.parse(text) as { heartbeatMs: number };
      this.#watch(heartbeatMs);
      this.onmessage?.({ data: text });
      // The edge accepted the refreshed token this stream was opened with.
      if (refresh?.id !== undefined) this.#deliver({ op: "ack", id: refresh.id });
      return;
    }
    this.onmessage?.({ data: text });
  }

  #watch(heartbeatMs: number): void {
    if (this.#heartbeatMs === heartbeatMs && this.#watchdog !== undefined) return;
    this.#heartbeatMs = heartbeatMs;
    clearInterval(this.#watchdog);
    this.#watchdog = setInterval(() => {
      const silent = Date.now() - this.#lastActivity;
      if (silent > SILENT_HEARTBEATS * heartbeatMs)
        this.#fail(4000, `no event or heartbeat from the edge for ${silent} ms`);
    }, heartbeatMs);
  }

  // ---- publishing ----

  async #publish(frame: Extract<ClientFrame, { op: "pub" }>): Promise<void> {
    const body = {
      topic: frame.topic,
      data: frame.data,
      ...(frame.msgId === undefined ? {} : { msgId: frame.msgId }),
    };
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(`${this.#base}/v1/publish`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }),
        },
        body: JSON.stringify(body),
      });
      text = await response.text();
    } catch (error) {
      // As a WebSocket that drops: the client publishes again, with the same msgId, on the next connection.
      return this.#fail(1006, `a publish request failed: ${messageOf(error)}`);
    }
    if (this.readyState !== OPEN) return;
    const answer = parseJson(text);
    if (response.status === 200 && checkPublishResult(answer) === undefined) {
      const { seq, dup } = answer as { seq: number; dup: boolean };
      return this.#deliver({ op: "ack", id: frame.id, seq, dup });
    }
    if (checkErrorBody(answer) === undefined) {
      const { code, message } = (answer as ErrorBody).error;
      return this.#deliver({ op: "err", id: frame.id, code, message });
    }
    this.#fail(1011, `POST /v1/publish answered HTTP ${response.status} without a herald error`);
  }

  // ---- helpers ----

  /** Hands up a frame this socket answers itself, after the current turn, as a received one would be. */
  #deliver(frame: object): void {
    const text = JSON.stringify(frame);
    setTimeout(() => {
      if (this.readyState === OPEN) this.onmessage?.({ data: text });
    }, 0);
  }

  #fail(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    clearTimeout(this.#reopenTimer);
    clearInterval(this.#watchdog);
    this.#stream?.controller.abort();
    this.#stream = undefined;
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }
}

/** A topic's `from` in the stream URL: live, last:K, or its position. */
function fromParam(from: From | undefined): string {
  if (from === undefined) return "live";
  if ("last" in from) return `last:${from.last}`;
  return encodeStreamPosition([from]);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function errorBody(response: Response): Promise<{ message: string }> {
  const body = parseJson(await response.text().catch(() => ""));
  if (checkErrorBody(body) === undefined) {
    const { code, message } = (body as ErrorBody).error;
    return { message: `${code}: ${message}` };
  }
  return { message: `the event stream was refused with HTTP ${response.status}` };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
