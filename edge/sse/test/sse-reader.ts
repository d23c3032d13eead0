// A Server-Sent Events reader for tests: GET a stream with fetch and parse it exactly as the
// EventSource algorithm does (fields id, event, data, retry; comments), keeping every event.
export interface SseEvent {
  readonly event: string;
  readonly data: string;
  /** The last event id as an EventSource would hold it after this event. */
  readonly lastEventId: string;
  /** The event's own id field, if it had one. */
  readonly id?: string;
}

export interface SseStream {
  readonly status: number;
  readonly headers: Headers;
  readonly events: SseEvent[];
  readonly comments: string[];
  /** The body of a refused (non-200) request. */
  readonly body: string;
  /** Resolves when the response ended (by the edge, or by close()). */
  readonly ended: Promise<void>;
  retry?: number;
  lastEventId: string;
  /** Parsed `data` of the events of type `event` (default: messages). */
  frames<T = Record<string, unknown>>(event?: string): T[];
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const stream: SseStream = {
    status: response.status,
    headers: response.headers,
    events,
    comments,
    body: "",
    ended: Promise.resolve(),
    lastEventId: "",
    frames: <T>(event = "message") =>
      events.filter((e) => e.event === event).map((e) => JSON.parse(e.data) as T),
    close: () => controller.abort(),
  };
  if (response.status !== 200 || !response.body) {
    return { ...stream, body: await response.text() };
  }
  const decoder = new TextDecoder();
  let buffer = "";
  let event = { type: "", data: [] as string[], id: undefined as string | undefined };
  const line = (text: string) => {
    if (text === "") {
      if (event.id !== undefined) stream.lastEventId = event.id;
      if (event.data.length > 0)
        events.push({
          event: event.type || "message",
          data: event.data.join("\n"),
          lastEventId: stream.lastEventId,
          ...(event.id === undefined ? {} : { id: event.id }),
        });
      event = { type: "", data: [], id: undefined };
      return;
    }
    if (text.startsWith(":")) return void comments.push(text.slice(1).trim());
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") event.data.push(value);
    else if (field === "event") event.type = value;
    else if (field === "id") event.id = value;
    else if (field === "retry" && /^\d+$/.test(value)) stream.retry = Number(value);
  };
  const reader = response.body.getReader();
  const ended = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let newline: number;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          line(buffer.slice(0, newline).replace(/\r$/, ""));
          buffer = buffer.slice(newline + 1);
        }
      }
    } catch {
      // aborted by close(), or the connection was cut
    }
  })();
  return Object.assign(stream, { ended });
}
