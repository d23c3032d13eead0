// A real 4008: a Node client whose TCP socket stops reading while a burst larger than the edge's
// send buffer is published. The edge closes it with 4008 (slow consumer); once the socket reads
// again the client sees the close, reconnects at once (not after a backoff delay) and resumes from
// its position, so the application gets every message exactly once, in order.
import type { ClientRequestArgs } from "node:http";
import { connect as netConnect, type NetConnectOpts, type Socket } from "node:net";
import test from "ava";
import WebSocket from "ws";
import { CloseCode } from "../protocol/index.js";
import { startTestEdge } from "../e2e/harness/test-edge.js";
import type { RunningEdge } from "../edge/server.js";
import { HeraldClient, type WebSocketConstructor } from "./node.js";
import { publish, range } from "../e2e/harness/http.js";
import { TEST_API_KEY, TEST_EDGE_ENV } from "../e2e/harness/tokens.js";
import { waitFor } from "../e2e/harness/wait.js";

const TOPIC = "burst.feed";
/** Bytes of padding per message: the burst outgrows loopback's socket buffers within seconds. */
const PADDING = "x".repeat(8_000);
/**
 * Messages per publish request. The edge sends a resume's replay in one go, so what the client
 * misses at the close (at most about one batch) must fit the send buffer, or the resume itself
 * overflows it again.
 */
const BATCH = 5;
/** Far more than loopback's kernel buffers can hold (tens of MB): a bound, not an expectation. */
const MAX_BURST = 8_000;

async function publishBatch(edge: RunningEdge, numbers: number[]): Promise<void> {
  await publish(
    edge.url,
    numbers.map((n) => ({ topic: TOPIC, data: { n, padding: PADDING } })),
    TEST_API_KEY,
  );
}

async function slowConsumerCloses(edge: RunningEdge): Promise<number> {
  const counted = (await edge.metrics.closes.get()).values.find(
    (v) => v.labels.code === String(CloseCode.SlowConsumer),
  );
  return counted?.value ?? 0;
}

test("a client that stops reading is closed with 4008, resumes at once when it reads again, and gets every message once, in order", async (t) => {
  const edge = await startTestEdge(t, {
    ...TEST_EDGE_ENV,
    HERALD_SEND_BUFFER_BYTES: String(256 * 1024),
    // Neither side may give up on the stalled connection by heartbeat while the test holds it.
    HERALD_HEARTBEAT_MS: "600000",
    HERALD_MAX_MSGS_PER_TOPIC: String(MAX_BURST + 1_000),
  });
  // The application's WebSocket factory: `ws` over TCP sockets the test can stop reading.
  const sockets: Socket[] = [];
  const closeCodes: number[] = [];
  class PausableWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, {
        createConnection: (options: ClientRequestArgs) => {
          const socket = netConnect(options as NetConnectOpts);
          sockets.push(socket);
          return socket;
        },
      });
      this.addEventListener("close", (event) => closeCodes.push(event.code));
    }
  }
  // A backoff this long would hold the client away far beyond the test's deadlines.
  const client = new HeraldClient({
    url: edge.url,
    WebSocket: PausableWebSocket as unknown as WebSocketConstructor,
    backoff: { initialMs: 3_600_000, maxMs: 3_600_000 },
  });
  t.teardown(() => client.close());
  const values: number[] = [];
  const sub = client.subscribe<{ n: number }>(TOPIC, (message) => values.push(message.data.n));
  await waitFor("subscription confirmed", () => sub.position !== undefined);
  for (const n of range(10))
    await publish(edge.url, { topic: TOPIC, data: { n, padding: PADDING } }, TEST_API_KEY);
  await waitFor("10 messages", () => values.length === 10);

  sockets[0]!.pause();
  let published = 10;
  while ((await slowConsumerCloses(edge)) === 0) {
    if (published >= MAX_BURST)
      throw new Error(`no 4008 after ${published} messages of ${PADDING.length} bytes`);
    await publishBatch(edge, range(BATCH, published + 1));
    published += BATCH;
  }
  t.true(values.length < published, "the client was behind when the edge closed it");
  t.deepEqual(closeCodes, [], "the client has not seen the close yet: its socket is not reading");

  sockets[0]!.resume();
  await waitFor(
    "the 4008 close read and a new connection open",
    () => closeCodes.length === 1 && sockets.length === 2 && client.state === "open",
  );
  t.deepEqual(closeCodes, [CloseCode.SlowConsumer]);
  await publishBatch(edge, range(BATCH, published + 1));
  published += BATCH;
  await waitFor(`${published} messages`, () => values.length >= published, 120_000);
  t.deepEqual(values, range(published));
  t.is(await slowConsumerCloses(edge), 1);
});
