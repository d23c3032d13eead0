// What the cluster tests share: SDK clients (the Node entry's HeraldClient, as a user's service
// runs it) that connect through the load balancer and record what they deliver, the publisher loop
// that keeps traffic flowing while a fault or a rollout happens, and the verdicts a user would
// check: per client, every acknowledged message of its topics once, in publish order, on an
// unbroken prev chain; in the stored history, each msgId once. The publisher and the polling helpers
// come from the JetStream fault kit (e2e/jetstream/fault-kit.ts).
import type { ExecutionContext } from "ava";
import WebSocket from "ws";
import {
  HeraldClient,
  type ClientState,
  type Subscription,
  type WebSocketConstructor,
} from "../../client/node.js";
import { decodeEdgeFrames, type HistoryResponse } from "../../protocol/index.js";
import type { EdgeProcess } from "../harness/edge-process.js";
import type { TcpBalancer } from "../harness/tcp-balancer.js";
import { waitUntil, type RetryingPublisher } from "../jetstream/fault-kit.js";
import { storedMessages } from "../harness/http.js";
import { TEST_API_KEY } from "../harness/tokens.js";
import { sleep } from "../harness/wait.js";

/** One delivered message as the handler saw it. */
interface Delivered {
  readonly data: string;
  readonly seq: number;
  readonly prev: number;
}

/**
 * A HeraldClient subscribed to a few topics. Besides what its handlers deliver and its `state`
 * events, it records what the edges said on the wire (the `reconnect` frames' afterMs, `err` codes and
 * close codes) through the client's own `WebSocket` option: the SDK itself is not touched.
 */
export class SdkSubscriber {
  readonly client: HeraldClient;
  readonly delivered = new Map<string, Delivered[]>();
  readonly states: ClientState[] = [];
  /** afterMs of every `reconnect` frame an edge sent this client. */
  readonly reconnectAfterMs: number[] = [];
  /** Code of every `err` frame an edge sent this client (transient refusals the SDK retries). */
  readonly errCodes: string[] = [];
  /** Close code of every connection of this client that ended. */
  readonly closeCodes: number[] = [];
  readonly resyncs: string[] = [];
  private readonly subscriptions: Subscription<string>[] = [];

  constructor(
    url: string,
    readonly topics: string[],
  ) {
    this.client = new HeraldClient({
      url,
      WebSocket: observedWebSocket(this),
      // What the edges said is observed on the WebSocket: no fallback to Server-Sent Events.
      transports: ["websocket"],
      backoff: { initialMs: 100, maxMs: 1000 },
    });
    this.client.on("state", (state) => this.states.push(state));
    for (const topic of topics) {
      const subscription = this.client.subscribe<string>(topic, (message) => {
        const list = this.delivered.get(topic) ?? [];
        list.push({ data: message.data, seq: message.seq, prev: message.prev });
        this.delivered.set(topic, list);
      });
      subscription.on("resync", (info) =>
        this.resyncs.push(`${topic}: resync from ${JSON.stringify(info.lost)}`),
      );
      this.subscriptions.push(subscription);
    }
  }

  /** Every subscription confirmed by an edge (it has a position). */
  get subscribed(): boolean {
    return this.subscriptions.every((subscription) => subscription.position !== undefined);
  }

  /** The client's state events that moved it off a connection it had. */
  get reconnects(): number {
    return this.states.filter((state) => state === "reconnecting").length;
  }
}

/** The `ws` WebSocket, recording the edges' `reconnect` and `err` frames and close codes into `subscriber`. */
function observedWebSocket(subscriber: SdkSubscriber): WebSocketConstructor {
  class ObservedWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.on("message", (data: WebSocket.RawData) => {
        try {
          for (const frame of decodeEdgeFrames(data.toString())) {
            if (frame.op === "reconnect") subscriber.reconnectAfterMs.push(frame.afterMs);
            if (frame.op === "err") subscriber.errCodes.push(frame.code);
          }
        } catch {
          // The client itself reports an undecodable frame (and the verdict then fails on its gap).
        }
      });
      this.on("close", (code: number) => subscriber.closeCodes.push(code));
    }
  }
  return ObservedWebSocket as unknown as WebSocketConstructor;
}

/**
 * `count` SDK clients on `url`, client i on topics i and i+offset (mod topics.length), all
 * subscribed before this resolves; closed when the test ends.
 */
export async function startSubscribers(
  t: ExecutionContext,
  url: string,
  topics: string[],
  count: number,
): Promise<SdkSubscriber[]> {
  const offset = Math.floor(topics.length / 2);
  const subscribers = Array.from(
    { length: count },
    (_, i) => new SdkSubscriber(url, [topics[i % topics.length]!, topics[(i + offset) % topics.length]!]),
  );
  t.teardown(() => subscribers.forEach((s) => s.client.close()));
  await waitUntil("every client subscribed through the balancer", () =>
    subscribers.every((s) => s.subscribed),
  );
  return subscribers;
}

/**
 * Publishes round-robin over the topics (`${topic}#${n}`, the msgId being the data) until `done`
 * says to stop, and at least `minRounds` rounds: traffic flows for as long as the fault or the
 * rollout takes, however slow the machine.
 */
export async function publishWhile(
  publisher: RetryingPublisher,
  topics: string[],
  minRounds: number,
  done: () => boolean,
  paceMs = 5,
): Promise<void> {
  for (let round = 0; round < minRounds || !done(); round++) {
    for (const topic of topics) {
      await publisher.publish(topic, `${topic}#${round}`);
      await sleep(paceMs);
    }
  }
}

/** What `delivered` should be: the acknowledged messages in publish order, chained on prev from the topic's start. */
function expected(publisher: RetryingPublisher, topic: string): Delivered[] {
  const data = publisher.published.get(topic) ?? [];
  const seqs = publisher.seqs.get(topic) ?? [];
  return data.map((d, i) => ({ data: d, seq: seqs[i]!, prev: i === 0 ? 0 : seqs[i - 1]! }));
}

/**
 * Waits until every client delivered as many messages as were acknowledged on each of its topics,
 * then lists every difference from the acknowledged stream (empty when all is well).
 */
export async function deliveryProblems(
  publisher: RetryingPublisher,
  subscribers: SdkSubscriber[],
): Promise<string[]> {
  const complete = (s: SdkSubscriber) =>
    s.topics.every(
      (topic) => (s.delivered.get(topic)?.length ?? 0) >= (publisher.published.get(topic)?.length ?? 0),
    );
  await waitUntil("every client to deliver every acknowledged message", () =>
    subscribers.every(complete),
  ).catch(() => undefined);
  const problems: string[] = [];
  subscribers.forEach((s, index) => {
    for (const resync of s.resyncs) problems.push(`client ${index}: ${resync}`);
    for (const topic of s.topics) {
      const want = expected(publisher, topic);
      const got = s.delivered.get(topic) ?? [];
      if (JSON.stringify(got) === JSON.stringify(want)) continue;
      const at = Math.max(
        0,
        want.findIndex((w, k) => JSON.stringify(got[k]) !== JSON.stringify(w)),
      );
      problems.push(
        `client ${index} ${topic}: delivered ${got.length}, acknowledged ${want.length}; first difference #${at}: got ${JSON.stringify(got[at])}, expected ${JSON.stringify(want[at])}`,
      );
    }
  });
  return problems.slice(0, 20);
}

/**
 * Reads each topic's stored history through `url` (GET /v1/topics/:topic/messages) and lists every
 * difference from what was acknowledged: each msgId (the data) stored once, in publish order, on
 * an unbroken prev chain.
 */
export async function historyProblems(
  url: string,
  publisher: RetryingPublisher,
  topics: string[],
): Promise<string[]> {
  const problems: string[] = [];
  for (const topic of topics) {
    let messages: HistoryResponse["messages"];
    try {
      messages = await storedMessages(url, topic, TEST_API_KEY);
    } catch (error) {
      problems.push(`${topic}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const stored = messages.map((m) => ({
      data: m.data,
      seq: m.seq,
      prev: m.prev,
    }));
    const want = expected(publisher, topic);
    if (JSON.stringify(stored) !== JSON.stringify(want)) {
      problems.push(
        `${topic}: stored ${stored.length} (${new Set(stored.map((m) => m.data)).size} distinct msgIds), acknowledged ${want.length}`,
      );
    }
  }
  return problems;
}

/** GET /readyz answers 200 (a process that is gone is not ready). */
async function ready(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/readyz`)).status === 200;
  } catch {
    return false;
  }
}

/**
 * One step of a rolling restart as Kubernetes does it: the replacement starts and joins the
 * balancer once ready; the old edge gets SIGTERM, its readiness probe fails (/readyz turns 503 at
 * once) and the balancer stops sending it new connections, while the edge drains the ones it has.
 * Resolves with the replacement and the old edge's exit code.
 */
export async function rollEdge(
  balancer: TcpBalancer,
  old: EdgeProcess,
  spawnReplacement: () => Promise<EdgeProcess>,
): Promise<{ replacement: EdgeProcess; exitCode: number | null }> {
  const replacement = await spawnReplacement();
  balancer.add(replacement.port);
  old.kill("SIGTERM");
  await waitUntil(`edge ${old.port} unready`, async () => !(await ready(old.url)));
  balancer.remove(old.port);
  return { replacement, exitCode: await old.exited };
}
