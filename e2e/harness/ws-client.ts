// A small herald.v1 test client over real WebSockets: connects with the subprotocol, records every
// edge frame (split on "\n" and checked against the protocol schemas), and waits for conditions
// with a deadline. Shared by the edge, hub, backend and auth tests.
import WebSocket from "ws";
import type { Teardown } from "./nats-server.js";
import { decodeEdgeFrames, SUBPROTOCOL, type EdgeFrame, type MsgFrame } from "../../protocol/index.js";

export interface ConnectOptions {
  /** Sent as ?token= on the upgrade. */
  readonly token?: string;
  readonly protocols?: string[];
  readonly headers?: Record<string, string>;
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class TestClient {
  /** Every edge frame received, in order. */
  readonly frames: EdgeFrame[] = [];
  /** Every WebSocket text frame as received, before splitting (to observe batching). */
  readonly rawFrames: string[] = [];
  closed: Closed | undefined;
  private readonly waiters = new Set<() => void>();
  private decodeError: Error | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? "<binary>" : data.toString();
      this.rawFrames.push(text);
      try {
        this.frames.push(...decodeEdgeFrames(text));
      } catch (error) {
        this.decodeError = error as Error;
      }
      this.wake();
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on("error", () => this.wake());
  }

  /** Opens a connection; resolves once it is open, rejects with the HTTP status if refused. */
  static connect(wsUrl: string, options: ConnectOptions = {}): Promise<TestClient> {
    const url = options.token === undefined ? wsUrl : `${wsUrl}?token=${encodeURIComponent(options.token)}`;
    const ws = new WebSocket(url, options.protocols ?? [SUBPROTOCOL], { headers: options.headers });
    const client = new TestClient(ws);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(client));
      ws.once("unexpected-response", (_request, response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk.toString()));
        response.on("end", () => reject(new UpgradeRefused(response.statusCode ?? 0, body)));
      });
      ws.once("error", (error) => reject(error));
    });
  }

  /** Connects and waits for the welcome frame. */
  static async ready(wsUrl: string, options: ConnectOptions = {}): Promise<TestClient> {
    const client = await TestClient.connect(wsUrl, options);
    await client.waitFor((f) => f.op === "welcome", "welcome");
    return client;
  }

  send(frame: object | string): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Sends a request and waits for the ack or err frame carrying its id. */
  async request(
    frame: { id: string | number } & Record<string, unknown>,
    timeoutMs?: number,
  ): Promise<EdgeFrame> {
    this.send(frame);
    return this.waitFor(
      (f) => (f.op === "ack" || f.op === "err" || f.op === "subok") && f.id === frame.id,
      `reply to ${JSON.stringify(frame).slice(0, 80)}`,
      timeoutMs,
    );
  }

  /** Subscribes and waits for subok (throws with the err frame otherwise). */
  async subscribe(topic: string, from?: object, id: string | number = `sub:${topic}`): Promise<EdgeFrame> {
    const reply = await this.request({ op: "sub", topic, id, ...(from ? { from } : {}) });
    if (reply.op !== "subok") throw new Error(`subscribe ${topic} refused: ${JSON.stringify(reply)}`);
    return reply;
  }

  /** The msg frames received for a topic, in order. */
  messages(topic: string): MsgFrame[] {
    return this.frames.filter((f): f is MsgFrame => f.op === "msg" && f.topic === topic);
  }

  /** The first frame (already received or future) matching `predicate`. */
  waitFor(predicate: (frame: EdgeFrame) => boolean, what = "frame", timeoutMs?: number): Promise<EdgeFrame> {
    return this.until(() => this.frames.find(predicate), what, timeoutMs);
  }

  /** Waits until `count` msg frames of `topic` arrived. */
  async waitForMessages(topic: string, count: number, timeoutMs?: number): Promise<MsgFrame[]> {
    await this.until(
      () => (this.messages(topic).length >= count ? true : undefined),
      `${count} messages on ${topic}`,
      timeoutMs,
    );
    return this.messages(topic);
  }

  waitForClose(timeoutMs?: number): Promise<Closed> {
    return this.until(() => this.closed, "close", timeoutMs);
  }

  /** Resolves when `check` returns a value; rejects after the deadline, or on a frame that is not herald.v1. */
  until<T>(check: () => T | undefined, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        if (this.decodeError) return finish(() => reject(this.decodeError));
        const value = check();
        if (value !== undefined) return finish(() => resolve(value));
        if (this.closed) {
          // A closed socket will not deliver more: fail now rather than at the deadline.
          return finish(() =>
            reject(
              new Error(
                `connection closed (${this.closed!.code} ${this.closed!.reason}) while waiting for ${what}`,
              ),
            ),
          );
        }
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(attempt);
        settle();
      };
      this.waiters.add(attempt);
      attempt();
    });
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.terminate();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** The clients one test opens on an edge, each welcomed when open() resolves, all closed at its end. */
export class TestClients {
  readonly all: TestClient[] = [];

  constructor(
    t: Teardown,
    private readonly wsUrl: string,
  ) {
    t.teardown(() => this.all.forEach((client) => client.close()));
  }

  async open(options: ConnectOptions = {}): Promise<TestClient> {
    const client = await TestClient.ready(this.wsUrl, options);
    this.all.push(client);
    return client;
  }
}

export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with HTTP ${status}: ${body}`);
    this.name = "UpgradeRefused";
  }
}

/** Asserts a message run is gap-free: every prev is the previous seq (the first's prev is `startPrev`). */
export function chainProblem(
  messages: readonly { readonly seq: number; readonly prev: number }[],
  startPrev: number,
): string | undefined {
  let last = startPrev;
  for (const [index, m] of messages.entries()) {
    if (m.prev !== last) return `message ${index} (seq ${m.seq}) has prev ${m.prev}, expected ${last}`;
    last = m.seq;
  }
  return undefined;
}
