// What every JetStream fault test (e2e/jetstream/, e2e/cluster/) shares: edges on NATS as real processes, a publisher that retries
// unacknowledged messages with the same msgId (as a real server-side publisher must), and
// subscribers on real WebSockets that keep their position per topic, resume after any disconnect,
// and record every problem with the prev chain. The verdict compares each subscriber's messages
// with what the publisher had acknowledged: every one exactly once, in publish order.
import type { ExecutionContext } from "ava";
import WebSocket from "ws";
import { decodeEdgeFrames, SUBPROTOCOL, type EdgeFrame, type FromPosition } from "../../protocol/index.js";
import { spawnEdge, type EdgeProcess, type SpawnOptions } from "../harness/edge-process.js";
import { sleep, waitFor, type Check } from "../harness/wait.js";
import { TEST_API_KEY } from "../harness/tokens.js";
import { scrape } from "../harness/metrics-doc.js";

const DEADLINE_MS = 90_000;

export function spawnNatsEdge(
  t: ExecutionContext,
  natsUrls: string | string[],
  env: Record<string, string> = {},
  options: SpawnOptions = {},
): Promise<EdgeProcess> {
  return spawnEdge(
    t,
    {
      HERALD_NATS_URL: Array.isArray(natsUrls) ? natsUrls.join(",") : natsUrls,
      HERALD_API_KEYS: TEST_API_KEY,
      HERALD_ALLOW_ANONYMOUS: "true",
      ...env,
    },
    options,
  );
}

/** GET <url><path>: the status, the retry-after header and the JSON body (undefined when not JSON). */
export async function probe(
  url: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
  const response = await fetch(`${url}${path}`, init);
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, retryAfter: response.headers.get("retry-after"), body };
}

/** One HTTP publish with the API key, answered like probe(): for tests that expect a refusal. */
export function probePublish(url: string, topic: string, data: unknown): ReturnType<typeof probe> {
  return probe(url, "/v1/publish", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TEST_API_KEY}` },
    body: JSON.stringify({ topic, data }),
  });
}

/** The sum of the samples whose name (with labels) matches `sample`, e.g. /^herald_gap_repairs_total/. */
export async function metricSum(url: string, sample: RegExp): Promise<number> {
  let sum = 0;
  for (const [name, value] of await scrape(url)) if (sample.test(name)) sum += value;
  return sum;
}

/** `waitFor` with the fault tests' longer deadline: recovery after a fault can take a while. */
export const waitUntil = (what: string, check: Check<unknown>, timeoutMs = DEADLINE_MS) =>
  waitFor(what, check, timeoutMs);

/**
 * Publishes through POST /v1/publish, one message at a time per topic, and keeps every
 * acknowledged message's data per topic in publish order. A 503 or a broken connection means "not
 * known to be stored": the same message is sent again with the same msgId until it is acknowledged.
 */
export class RetryingPublisher {
  readonly published = new Map<string, string[]>();
  readonly seqs = new Map<string, number[]>();
  retries = 0;
  count = 0;

  constructor(private readonly baseUrl: () => string) {}

  async publish(topic: string, data: string): Promise<void> {
    const deadline = Date.now() + DEADLINE_MS;
    while (true) {
      let status = 0;
      let body = "";
      try {
        const response = await fetch(`${this.baseUrl()}/v1/publish`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${TEST_API_KEY}` },
          body: JSON.stringify({ topic, data, msgId: data }),
          signal: AbortSignal.timeout(15_000),
        });
        status = response.status;
        body = await response.text();
      } catch (error) {
        body = String(error);
      }
      if (status === 200) {
        const ack = JSON.parse(body) as { seq: number; dup: boolean };
        const seqs = this.seqs.get(topic) ?? [];
        // A dup ack is the first attempt's message, already stored: record it once.
        if (!seqs.includes(ack.seq)) {
          seqs.push(ack.seq);
          this.seqs.set(topic, seqs);
          this.published.set(topic, [...(this.published.get(topic) ?? []), data]);
        }
        this.count++;
        return;
      }
      if (status !== 0 && status !== 503)
        throw new Error(`publish ${data} failed with HTTP ${status}: ${body}`);
      if (Date.now() > deadline)
        throw new Error(`publish ${data} not acknowledged within ${DEADLINE_MS} ms: ${status} ${body}`);
      this.retries++;
      await sleep(100);
    }
  }

  /** Publishes `perTopic` messages round-robin over the topics, calling `during` after `faultAfter` of them. */
  async run(
    topics: string[],
    perTopic: number,
    faultAfter: number,
    during: () => Promise<void>,
    paceMs = 5,
  ): Promise<void> {
    let sent = 0;
    let fault: Promise<void> | undefined;
    for (let i = 0; i < perTopic; i++) {
      for (const topic of topics) {
        if (sent++ === faultAfter) fault = during();
        await this.publish(topic, `${topic}#${i}`);
        if (paceMs > 0) await sleep(paceMs);
      }
    }
    await fault;
  }
}

export interface SubscriberOptions {
  /** WebSocket URLs to connect to, tried in turn after a disconnect. */
  readonly urls: () => string[];
  readonly topics: string[];
  /** Positions to resume from on the first connection (a client that was connected before). */
  readonly positions?: Map<string, FromPosition>;
}

/** A subscriber, started (connected, every topic subscribed) before this resolves; it stops when the test ends. */
export async function startSubscriber(
  t: ExecutionContext,
  options: SubscriberOptions,
): Promise<ResumingSubscriber> {
  const subscriber = new ResumingSubscriber(options);
  t.teardown(() => subscriber.stop());
  await subscriber.start();
  return subscriber;
}

/** `count` subscribers as startSubscriber starts them, subscriber i with `options(i)`, all at once. */
export function startSubscribers(
  t: ExecutionContext,
  count: number,
  options: (i: number) => SubscriberOptions,
): Promise<ResumingSubscriber[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => startSubscriber(t, options(i))));
}

/** A herald.v1 subscriber that resumes from its positions whenever its connection ends. */
export class ResumingSubscriber {
  readonly received = new Map<string, string[]>();
  readonly positions: Map<string, FromPosition>;
  readonly problems: string[] = [];
  readonly suboks: EdgeFrame[] = [];
  connections = 0;
  private ws: WebSocket | undefined;
  private stopped = false;
  private attempt = 0;
  private subscribed = new Set<string>();
  private onReady: (() => void) | undefined;

  constructor(private readonly options: SubscriberOptions) {
    this.positions = new Map(options.positions ?? []);
  }

  get topics(): string[] {
    return this.options.topics;
  }

  /** Connects (trying the URLs in turn) and resolves once every topic is subscribed. */
  async start(): Promise<void> {
    // Resolved from handle() (no polling: a storm test starts thousands of these at once).
    const subscribed = new Promise<void>((resolve) => (this.onReady = resolve));
    this.open();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(`subscriptions not confirmed within ${DEADLINE_MS} ms: ${this.problems.join("; ")}`),
          ),
        DEADLINE_MS,
      );
    });
    try {
      await Promise.race([subscribed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  get ready(): boolean {
    return this.subscribed.size === this.options.topics.length;
  }

  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
  }

  private open(): void {
    if (this.stopped) return;
    const urls = this.options.urls();
    const url = urls[this.attempt++ % urls.length]!;
    const ws = new WebSocket(url, [SUBPROTOCOL]);
    this.ws = ws;
    this.subscribed = new Set();
    ws.on("open", () => {
      this.connections++;
      for (const topic of this.options.topics) {
        const from = this.positions.get(topic);
        ws.send(JSON.stringify({ op: "sub", topic, id: topic, ...(from ? { from } : {}) }));
      }
    });
    ws.on("message", (data) => {
      try {
        for (const frame of decodeEdgeFrames(data.toString())) this.handle(frame);
      } catch (error) {
        this.problems.push(`undecodable frame: ${String(error)}`);
      }
    });
    ws.on("error", () => undefined);
    ws.on("close", () => {
      if (this.ws === ws && !this.stopped) setTimeout(() => this.open(), 50 + Math.random() * 100);
    });
  }

  private handle(frame: EdgeFrame): void {
    switch (frame.op) {
      case "subok": {
        this.suboks.push(frame);
        const asked = this.positions.get(frame.topic);
        if (asked && !frame.recovered)
          this.problems.push(`${frame.topic}: resume from ${asked.seq} not recovered`);
        if (asked && frame.recovered && (frame.epoch !== asked.epoch || frame.seq !== asked.seq)) {
          this.problems.push(
            `${frame.topic}: resumed at ${frame.epoch}/${frame.seq}, asked ${asked.epoch}/${asked.seq}`,
          );
        }
        this.positions.set(frame.topic, { epoch: frame.epoch, seq: frame.seq });
        this.subscribed.add(frame.topic);
        if (this.ready) this.onReady?.();
        return;
      }
      case "msg": {
        const position = this.positions.get(frame.topic);
        if (!position) {
          this.problems.push(`${frame.topic}: message ${frame.seq} before subok`);
          return;
        }
        if (frame.prev !== position.seq) {
          this.problems.push(
            `${frame.topic}: message ${frame.seq} has prev ${frame.prev}, last accepted ${position.seq}`,
          );
        }
        position.seq = frame.seq;
        this.received.set(frame.topic, [...(this.received.get(frame.topic) ?? []), String(frame.data)]);
        return;
      }
      case "err":
        this.problems.push(`err frame: ${JSON.stringify(frame)}`);
        return;
      default:
        return;
    }
  }
}

/** Waits until every subscriber holds every acknowledged message, then states what differs. */
export async function verdict(
  publisher: RetryingPublisher,
  subscribers: ResumingSubscriber[],
): Promise<string[]> {
  const topicsOf = (s: ResumingSubscriber) => s.topics;
  const complete = (s: ResumingSubscriber) =>
    topicsOf(s).every(
      (topic) => (s.received.get(topic)?.length ?? 0) >= (publisher.published.get(topic)?.length ?? 0),
    );
  await waitUntil("every subscriber to receive every message", () => subscribers.every(complete)).catch(
    () => undefined,
  );
  const problems: string[] = [];
  subscribers.forEach((s, index) => {
    for (const problem of s.problems) problems.push(`subscriber ${index}: ${problem}`);
    for (const topic of topicsOf(s)) {
      const want = publisher.published.get(topic) ?? [];
      const got = s.received.get(topic) ?? [];
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        problems.push(
          `subscriber ${index} ${topic}: got ${got.length} messages, expected ${want.length}; first difference at ${firstDifference(got, want)}`,
        );
      }
    }
  });
  return problems.slice(0, 20);
}

function firstDifference(got: string[], want: string[]): string {
  const i = want.findIndex((w, k) => got[k] !== w);
  const at = i < 0 ? want.length : i;
  return `#${at}: got ${JSON.stringify(got[at])}, expected ${JSON.stringify(want[at])}`;
}
