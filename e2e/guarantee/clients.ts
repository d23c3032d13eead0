// The clients the checker drives, each recording what it observed as chains (checker.ts):
// - RawSubscriber: one herald.v1 connection (the harness's TestClient) with many topics; after any
//   disconnect it reconnects and resumes every topic from the position it stands at, as the
//   protocol tells clients to. It can stop reading for a while (a slow reader).
// - SdkSubscriber: one HeraldClient of client/ (its own reconnect, resume, dedupe, pausing);
//   what its handlers receive is what the application sees.
// - Publisher: POST /v1/publish (one message or a batch), `pub` frames, or the SDK's publish;
//   a publish with a msgId whose answer was lost is sent again with that msgId.
import { HeraldClient, type Subscription, type SubscribeFrom } from "../../client/node.js";
import type { EdgeFrame, FromLast, FromPosition } from "../../protocol/index.js";
import { TestClient } from "../harness/ws-client.js";
import type { Chain, Delivery, Segment, SegmentCause } from "./checker.js";
import type { LogModel, PublishRecord, Via } from "./model.js";
import { sleep } from "../harness/wait.js";

export const API_KEY = "guarantee-checker-api-key-0123456789";

/** The tag of a message this run published (its data is `{"k": tag, "p": payload}`). */
export function tagOf(data: unknown): string | undefined {
  const k = (data as { k?: unknown } | null)?.k;
  return typeof k === "string" ? k : undefined;
}

type From = FromPosition | FromLast | undefined;

interface RawTopic {
  readonly chain: Chain;
  /** What the next `sub` asks for while the chain has no position of its own yet. */
  from: From;
  cause: SegmentCause;
  state: "pending" | "active" | "unsubscribing";
  requestId: string | undefined;
  tSend: number;
  /** The segment in force. */
  segment: Segment | undefined;
  /** When the chain last moved (a subok or a message): the lower bound of an edge's restart. */
  lastActivity: number;
  retry: NodeJS.Timeout | undefined;
  unsubbed?: () => void;
}

let chainCounter = 0;
const newChainId = (who: string) => `${who}#${++chainCounter}`;

export class RawSubscriber {
  readonly chains: Chain[] = [];
  private readonly topics = new Map<string, RawTopic>();
  private conn: TestClient | undefined;
  /** The current connection's welcome arrived: requests may be sent. */
  private ready = false;
  private cursor = 0;
  private connecting = false;
  private stopped = false;
  private pausedUntil = 0;
  private nextId = 0;
  /** Connections opened, and how each ended: for the report. */
  connections = 0;
  readonly closeCodes = new Map<number, number>();

  /** The edge of the current (or last) connection, by its index in `edges()`. */
  edge: number | undefined;
  private attempt = 0;

  constructor(
    readonly name: string,
    /** The edges to connect to (straight, not through the balancer: the report says which one). */
    private readonly edges: () => { index: number; wsUrl: string }[],
  ) {
    this.attempt = Number(name.replace(/\D/g, "")) || 0;
  }

  start(): void {
    this.connect();
  }

  /** Topics with a subscription (pending or in force). */
  subscribed(): string[] {
    return [...this.topics.keys()];
  }

  has(topic: string): boolean {
    return this.topics.has(topic);
  }

  /** Where the chain of `topic` stands: its epoch and the last seq delivered. */
  position(topic: string): FromPosition | undefined {
    const entry = this.topics.get(topic);
    return entry ? chainPosition(entry.chain) : undefined;
  }

  /** A new logical subscription (a new chain), from the given place. */
  subscribe(topic: string, from: From): void {
    if (this.topics.has(topic) || this.stopped) return;
    const chain: Chain = { id: newChainId(this.name), client: "raw", topic, segments: [], active: true };
    this.chains.push(chain);
    this.subscribeChain(chain, from, from === undefined ? "live" : "last" in from ? "last" : "resume");
  }

  /** Unsubscribes; resolves once acknowledged (or the connection went). Returns the chain. */
  async unsubscribe(topic: string): Promise<Chain | undefined> {
    const entry = this.topics.get(topic);
    if (!entry) return undefined;
    clearTimeout(entry.retry);
    const conn = this.conn;
    if (!conn || conn.closed || !this.ready || entry.requestId === undefined) {
      // Nothing on the wire for it on this connection.
      this.end(topic, entry);
      return entry.chain;
    }
    entry.state = "unsubscribing";
    const id = this.newId();
    const done = new Promise<void>((resolve) => (entry.unsubbed = resolve));
    entry.requestId = id;
    conn.send({ op: "unsub", topic, id });
    await Promise.race([done, sleep(5_000)]);
    this.end(topic, entry);
    return entry.chain;
  }

  /** Unsubscribes, then subscribes again from where the chain stands: the same chain goes on. */
  async resubscribe(topic: string): Promise<void> {
    const chain = await this.unsubscribe(topic);
    if (chain) this.resume(chain);
  }

  /** Subscribes a chain that was unsubscribed again, from where it stands. */
  resume(chain: Chain): void {
    if (this.stopped || this.topics.has(chain.topic)) return;
    chain.active = true;
    const from = chainPosition(chain);
    this.subscribeChain(chain, from, from === undefined ? "live" : "resume");
  }

  /** Drops the connection now; it reconnects and resumes every topic at once. */
  reconnect(): void {
    this.conn?.close();
  }

  /** Stops reading the socket for `ms` (the edge's send buffer fills, or its replay waits). */
  pause(ms: number): void {
    this.pausedUntil = Date.now() + ms;
    this.conn?.ws.pause();
    setTimeout(() => {
      if (Date.now() >= this.pausedUntil) this.conn?.ws.resume();
    }, ms);
  }

  resumeReading(): void {
    this.pausedUntil = 0;
    this.conn?.ws.resume();
  }

  /** Topics whose subscription is not at the head (for the report). */
  behind(
    model: LogModel,
    epoch: string,
  ): { topic: string; state: string; position: FromPosition | undefined }[] {
    const out: { topic: string; state: string; position: FromPosition | undefined }[] = [];
    for (const [topic, entry] of this.topics) {
      const position = chainPosition(entry.chain);
      if (entry.state !== "active" || position?.epoch !== epoch || position.seq < model.head(epoch, topic))
        out.push({ topic, state: entry.state, position });
    }
    return out;
  }

  /** Every topic has a subscription in force at its log's head. */
  settled(model: LogModel, epoch: string): boolean {
    for (const [topic, entry] of this.topics) {
      if (entry.state !== "active") return false;
      const position = chainPosition(entry.chain);
      if (position?.epoch !== epoch || position.seq < model.head(epoch, topic)) return false;
    }
    return true;
  }

  stop(): void {
    this.stopped = true;
    for (const [topic, entry] of this.topics) {
      clearTimeout(entry.retry);
      if (entry.state !== "active") entry.chain.pending = entry.chain.pending ?? `still ${entry.state}`;
      void topic;
    }
    this.conn?.close();
  }

  /** Subscribes `chain`'s topic from `from`: a pending entry for it, and its `sub`. */
  private subscribeChain(chain: Chain, from: From, cause: SegmentCause): void {
    this.topics.set(chain.topic, {
      chain,
      from,
      cause,
      state: "pending",
      requestId: undefined,
      tSend: 0,
      segment: undefined,
      lastActivity: Date.now(),
      retry: undefined,
    });
    this.sendSub(chain.topic);
  }

  private end(topic: string, entry: RawTopic): void {
    entry.chain.active = false;
    entry.segment = undefined;
    if (this.topics.get(topic) === entry) this.topics.delete(topic);
  }

  private newId(): string {
    return `${this.name}:${++this.nextId}`;
  }

  private connect(): void {
    if (this.stopped || this.connecting) return;
    const edges = this.edges();
    if (edges.length === 0) {
      setTimeout(() => this.connect(), 100);
      return;
    }
    const target = edges[this.attempt++ % edges.length]!;
    this.connecting = true;
    TestClient.connect(target.wsUrl).then(
      (conn) => {
        this.connecting = false;
        if (this.stopped) {
          conn.close();
          return;
        }
        this.connections++;
        this.conn = conn;
        this.edge = target.index;
        this.ready = false;
        this.cursor = 0;
        conn.ws.on("message", () => this.drain(conn));
        conn.ws.on("close", (code) => this.lost(conn, code));
        if (Date.now() < this.pausedUntil) conn.ws.pause();
        this.drain(conn);
        if (conn.closed) this.lost(conn, conn.closed.code);
      },
      () => {
        // Refused (draining, restarting, no edge behind the balancer): try again soon.
        this.connecting = false;
        setTimeout(() => this.connect(), 100);
      },
    );
  }

  private lost(conn: TestClient, code: number): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.ready = false;
    this.closeCodes.set(code, (this.closeCodes.get(code) ?? 0) + 1);
    for (const [topic, entry] of this.topics) {
      clearTimeout(entry.retry);
      if (entry.state === "unsubscribing") {
        entry.unsubbed?.();
        continue;
      }
      entry.state = "pending";
      entry.segment = undefined;
      entry.requestId = undefined;
      void topic;
    }
    if (!this.stopped) setTimeout(() => this.connect(), 50 + Math.floor(Math.random() * 100));
  }

  /** Handles every frame received so far, then forgets them (a long run must not keep them all). */
  private drain(conn: TestClient): void {
    if (this.conn !== conn) return;
    const frames = conn.frames;
    while (this.cursor < frames.length) this.handle(conn, frames[this.cursor++]!);
    frames.splice(0);
    conn.rawFrames.splice(0);
    this.cursor = 0;
  }

  private handle(conn: TestClient, frame: EdgeFrame): void {
    const now = Date.now();
    switch (frame.op) {
      case "welcome":
        this.ready = true;
        for (const topic of this.topics.keys()) this.sendSub(topic);
        return;
      case "subok": {
        const entry = this.topics.get(frame.topic);
        if (!entry || entry.state === "unsubscribing") return;
        if (entry.state === "pending") {
          if (frame.id !== entry.requestId) return;
          const asked = entry.from && "epoch" in entry.from ? entry.from : undefined;
          entry.segment = {
            epoch: frame.epoch,
            start: frame.seq,
            recovered: frame.recovered,
            cause: entry.cause,
            ...(asked ? { asked } : {}),
            tSend: entry.tSend,
            tAnswer: now,
            deliveries: [],
          };
          entry.state = "active";
        } else {
          // The edge restarted the subscription on its own (a reset, or a gap it could not repair).
          entry.segment = {
            epoch: frame.epoch,
            start: frame.seq,
            recovered: frame.recovered,
            cause: "restart",
            ...(chainPosition(entry.chain) ? { asked: chainPosition(entry.chain)! } : {}),
            tSend: entry.lastActivity,
            tAnswer: now,
            deliveries: [],
          };
        }
        entry.chain.segments.push(entry.segment);
        entry.chain.pending = undefined;
        entry.lastActivity = now;
        return;
      }
      case "msg": {
        const entry = this.topics.get(frame.topic);
        if (!entry?.segment) return;
        const delivery: Delivery = { seq: frame.seq, prev: frame.prev, tag: tagOf(frame.data), t: now };
        entry.segment.deliveries.push(delivery);
        entry.lastActivity = now;
        return;
      }
      case "ack": {
        for (const entry of this.topics.values()) {
          if (entry.state === "unsubscribing" && entry.requestId === frame.id) entry.unsubbed?.();
        }
        return;
      }
      case "err": {
        for (const [topic, entry] of this.topics) {
          if (entry.requestId !== frame.id) continue;
          if (entry.state === "unsubscribing") {
            entry.unsubbed?.();
            return;
          }
          if (entry.state !== "pending") return;
          if (frame.code === "unavailable" || frame.code === "internal" || frame.code === "rate_limited") {
            // The log is unreachable for now (a cut link, an election): ask again.
            entry.retry = setTimeout(() => this.sendSub(topic), 200);
          } else {
            entry.chain.pending = `sub refused: ${frame.code} ${frame.message}`;
          }
          return;
        }
        return;
      }
      default:
        void conn;
        return;
    }
  }

  private sendSub(topic: string): void {
    const entry = this.topics.get(topic);
    const conn = this.conn;
    if (!entry || entry.state === "unsubscribing" || !conn || conn.closed || !this.ready) return;
    const position = chainPosition(entry.chain);
    if (position) {
      entry.from = position;
      entry.cause = "resume";
    }
    entry.state = "pending";
    entry.segment = undefined;
    entry.requestId = this.newId();
    entry.tSend = Date.now();
    conn.send({ op: "sub", topic, id: entry.requestId, ...(entry.from ? { from: entry.from } : {}) });
  }
}

/** Where a chain stands: its last segment's epoch and the last seq delivered under it. */
export function chainPosition(chain: Chain): FromPosition | undefined {
  const segment = chain.segments.at(-1);
  if (!segment) return undefined;
  return { epoch: segment.epoch, seq: segment.deliveries.at(-1)?.seq ?? segment.start };
}

interface SdkTopic {
  readonly chain: Chain;
  readonly subscription: Subscription<unknown>;
  lastActivity: number;
}

/** One SDK client (client/node.ts) with subscriptions whose handlers record what they get. */
export class SdkSubscriber {
  readonly chains: Chain[] = [];
  readonly client: HeraldClient;
  private readonly topics = new Map<string, SdkTopic>();
  readonly errors: string[] = [];

  constructor(
    readonly name: string,
    url: string,
  ) {
    this.client = new HeraldClient({ url, backoff: { initialMs: 50, maxMs: 1000 } });
    this.client.on("error", (error) => {
      if (this.errors.length < 50) this.errors.push(error.message);
    });
  }

  has(topic: string): boolean {
    return this.topics.has(topic);
  }

  subscribed(): string[] {
    return [...this.topics.keys()];
  }

  position(topic: string): FromPosition | undefined {
    const entry = this.topics.get(topic);
    return entry ? chainPosition(entry.chain) : undefined;
  }

  /**
   * Subscribes (continuing `chain` when given: a resubscription from where it stood). `slowMs`:
   * the handler takes that long per message (a slow application), with `maxPending` held.
   */
  subscribe(
    topic: string,
    from: SubscribeFrom,
    options: { slowMs?: number; maxPending?: number } = {},
    chain?: Chain,
  ): void {
    if (this.topics.has(topic)) return;
    const theChain: Chain = chain ?? {
      id: newChainId(this.name),
      client: "sdk",
      topic,
      segments: [],
      active: true,
    };
    theChain.active = true;
    if (!chain) this.chains.push(theChain);
    const asked =
      typeof from === "object" && "epoch" in from ? { epoch: from.epoch, seq: from.seq } : undefined;
    const tSend = Date.now();
    const cause: SegmentCause = from === "live" ? "live" : "last" in (from as object) ? "last" : "resume";
    let opened = false;
    const open = (epoch: string, start: number, now: number) => {
      opened = true;
      theChain.segments.push({
        epoch,
        start,
        recovered: undefined,
        cause,
        ...(asked ? { asked } : {}),
        tSend,
        tAnswer: now,
        deliveries: [],
      });
    };
    if (asked) open(asked.epoch, asked.seq, tSend);
    const slowMs = options.slowMs ?? 0;
    const subscription = this.client.subscribe(
      topic,
      { from, ...(options.maxPending ? { maxPending: options.maxPending } : {}) },
      (message) => {
        const now = Date.now();
        if (!opened) open(message.epoch, message.prev, now);
        theChain.segments.at(-1)!.deliveries.push({
          seq: message.seq,
          prev: message.prev,
          tag: tagOf(message.data),
          t: now,
          epoch: message.epoch,
        });
        entry.lastActivity = now;
        return slowMs > 0 ? sleep(slowMs) : undefined;
      },
    );
    const entry: SdkTopic = { chain: theChain, subscription, lastActivity: tSend };
    this.topics.set(topic, entry);
    subscription.on("resync", (info) => {
      const now = Date.now();
      opened = true;
      theChain.segments.push({
        epoch: info.position.epoch,
        start: info.position.seq,
        recovered: false,
        cause: "restart",
        ...(info.lost ? { asked: info.lost } : {}),
        tSend: entry.lastActivity,
        tAnswer: now,
        deliveries: [],
      });
      entry.lastActivity = now;
    });
    subscription.on("error", (error) => {
      theChain.pending = `subscription ended: ${error.message}`;
    });
    // Before any message, where the edge said delivery starts (the subok's seq).
    void (async () => {
      for (let i = 0; i < 250 && !opened && !subscription.ended; i++) {
        const position = subscription.position;
        if (position && !opened) {
          open(position.epoch, position.seq, Date.now());
          return;
        }
        await sleep(20);
      }
    })();
  }

  unsubscribe(topic: string): Chain | undefined {
    const entry = this.topics.get(topic);
    if (!entry) return undefined;
    entry.subscription.unsubscribe();
    entry.chain.active = false;
    this.topics.delete(topic);
    return entry.chain;
  }

  /** Unsubscribes and subscribes again from the last delivered position: the chain goes on. */
  resubscribe(topic: string, options: { slowMs?: number; maxPending?: number } = {}): void {
    const chain = this.unsubscribe(topic);
    if (chain) this.resume(chain, options);
  }

  /** Subscribes a chain that was unsubscribed again, from where it stands. */
  resume(chain: Chain, options: { slowMs?: number; maxPending?: number } = {}): void {
    this.subscribe(chain.topic, chainPosition(chain) ?? "live", options, chain);
  }

  settled(model: LogModel, epoch: string): boolean {
    for (const [topic, entry] of this.topics) {
      if (entry.subscription.ended) continue;
      const position = chainPosition(entry.chain);
      if (position?.epoch !== epoch || position.seq < model.head(epoch, topic)) return false;
    }
    return true;
  }

  stop(): void {
    for (const entry of this.topics.values()) {
      if (entry.chain.segments.length === 0 && entry.chain.pending === undefined) {
        const position = entry.subscription.position;
        if (position) {
          entry.chain.segments.push({
            epoch: position.epoch,
            start: position.seq,
            recovered: undefined,
            cause: "live",
            tSend: entry.lastActivity,
            tAnswer: Date.now(),
            deliveries: [],
          });
        }
      }
    }
    this.client.close();
  }
}

export interface PublishRequest {
  readonly topic: string;
  readonly data: { k: string; p: string };
  readonly msgId: string | undefined;
  /** Send again (same msgId) until answered: only for a msgId of this publish's own. */
  readonly retry: boolean;
}

/** Publishes and records every attempt's outcome in the model. */
export class Publisher {
  private ws: TestClient | undefined;
  private wsConnecting: Promise<TestClient | undefined> | undefined;
  private sdk: HeraldClient | undefined;
  private nextId = 0;
  readonly inFlight = new Set<Promise<unknown>>();
  retries = 0;

  constructor(
    private readonly model: LogModel,
    private readonly baseUrl: string,
    private readonly wsUrl: string,
  ) {}

  /** Publishes each request (a batch when `via` is "batch"); resolves once each is answered or given up. */
  publish(via: Via, requests: PublishRequest[]): Promise<void> {
    const run = this.run(via, requests);
    this.inFlight.add(run);
    const forget = () => this.inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }

  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  close(): void {
    this.ws?.close();
    this.sdk?.close();
  }

  private async run(via: Via, requests: PublishRequest[]): Promise<void> {
    const now = Date.now();
    const records = requests.map((r) => {
      const record: PublishRecord = {
        tag: r.data.k,
        topic: r.topic,
        msgId: r.msgId,
        via,
        tSent: now,
        tLastSent: now,
      };
      this.model.addPublish(record);
      return record;
    });
    if (via === "batch") {
      const outcome = await this.http(requests);
      if (Array.isArray(outcome)) {
        outcome.forEach((result, i) => this.answered(records[i]!, result));
        return;
      }
      // The batch's fate is unknown: each message with its own msgId is sent again on its own.
      await Promise.all(
        requests.map((r, i) => (r.retry ? this.retryHttp(r, records[i]!) : this.fail(records[i]!, outcome))),
      );
      return;
    }
    await Promise.all(requests.map((r, i) => this.one(via, r, records[i]!)));
  }

  private async one(via: Via, request: PublishRequest, record: PublishRecord): Promise<void> {
    let outcome: { seq: number; dup: boolean } | string;
    if (via === "ws") outcome = await this.viaWs(request);
    else if (via === "sdk") outcome = await this.viaSdk(request);
    else {
      const answer = await this.http([request], false);
      outcome = Array.isArray(answer) ? answer[0]! : answer;
    }
    if (typeof outcome !== "string") return this.answered(record, outcome);
    if (!request.retry) return this.fail(record, outcome);
    await this.retryHttp(request, record);
  }

  private async retryHttp(request: PublishRequest, record: PublishRecord): Promise<void> {
    const deadline = Date.now() + 90_000;
    let last = "";
    while (Date.now() < deadline) {
      this.retries++;
      record.retried = true;
      await sleep(100 + Math.floor(Math.random() * 100));
      record.tLastSent = Date.now();
      const answer = await this.http([request], false);
      if (Array.isArray(answer)) return this.answered(record, answer[0]!);
      last = answer;
    }
    this.fail(record, `not answered within 90 s: ${last}`);
  }

  private answered(record: PublishRecord, result: { seq: number; dup: boolean }): void {
    record.tDone = Date.now();
    record.result = result;
    // A dup answer to our own retry is the first attempt, stored: the publish is at that seq.
    if (result.dup && !record.retried) return;
    const epoch = this.model.epochDuring(record.tLastSent, record.tDone);
    if (epoch === undefined) return;
    this.model.learn({
      epoch,
      topic: record.topic,
      seq: result.seq,
      tag: record.tag,
      storedMin: result.dup ? record.tSent : record.tLastSent,
      storedMax: record.tDone,
      source: "ack",
    });
  }

  private fail(record: PublishRecord, why: string): void {
    record.failed = why;
  }

  /** POST /v1/publish; an array of results, or why there is none (status, network error). */
  private async http(
    requests: PublishRequest[],
    asBatch = true,
  ): Promise<{ seq: number; dup: boolean }[] | string> {
    const items = requests.map((r) => ({
      topic: r.topic,
      data: r.data,
      ...(r.msgId ? { msgId: r.msgId } : {}),
    }));
    try {
      const response = await fetch(`${this.baseUrl}/v1/publish`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
        body: JSON.stringify(asBatch ? items : items[0]),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await response.text();
      if (response.status === 200) {
        const body = JSON.parse(text) as { seq: number; dup: boolean } | { seq: number; dup: boolean }[];
        return Array.isArray(body) ? body : [body];
      }
      if (response.status === 503 || response.status === 500) return `HTTP ${response.status} ${text}`;
      throw new Error(`publish refused with HTTP ${response.status}: ${text.slice(0, 300)}`);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("publish refused")) throw error;
      return String(error);
    }
  }

  private async wsClient(): Promise<TestClient | undefined> {
    if (this.ws && !this.ws.closed) return this.ws;
    this.wsConnecting ??= TestClient.connect(this.wsUrl, { token: undefined })
      .then(async (client) => {
        await client.waitFor((f) => f.op === "welcome", "welcome", 10_000);
        this.ws = client;
        return client;
      })
      .catch(() => undefined)
      .finally(() => (this.wsConnecting = undefined));
    return this.wsConnecting;
  }

  private async viaWs(request: PublishRequest): Promise<{ seq: number; dup: boolean } | string> {
    const client = await this.wsClient();
    if (!client) return "no WebSocket connection";
    const id = `pub:${++this.nextId}`;
    try {
      const reply = await client.request(
        {
          op: "pub",
          topic: request.topic,
          data: request.data,
          id,
          ...(request.msgId ? { msgId: request.msgId } : {}),
        },
        15_000,
      );
      // Forget what was received: this connection lives for the whole run.
      client.frames.splice(0);
      client.rawFrames.splice(0);
      if (reply.op === "ack" && reply.seq !== undefined) return { seq: reply.seq, dup: reply.dup ?? false };
      if (reply.op === "err" && (reply.code === "unavailable" || reply.code === "internal"))
        return `err ${reply.code}`;
      throw new Error(`pub refused: ${JSON.stringify(reply).slice(0, 300)}`);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("pub refused")) throw error;
      return String(error);
    }
  }

  private async viaSdk(request: PublishRequest): Promise<{ seq: number; dup: boolean } | string> {
    this.sdk ??= new HeraldClient({ url: this.baseUrl, backoff: { initialMs: 50, maxMs: 1000 } });
    try {
      const result = await Promise.race([
        this.sdk.publish(request.topic, request.data, request.msgId ? { msgId: request.msgId } : {}),
        sleep(60_000).then(() => {
          throw new Error("SDK publish not answered within 60 s");
        }),
      ]);
      return result;
    } catch (error) {
      return String(error);
    }
  }
}
