// One load-generating process of bench/fanout.ts: opens `count` subscriber connections to an edge
// (one process holds at most 20,000 open files, so the bench spreads connections over several of
// these), subscribes each to one topic, and checks every delivery: per connection each message
// must continue the topic's prev chain (no gap, no duplicate, in order). Reports to the parent over
// IPC: "ready" once every connection is subscribed, then its statistics when told to stop.
import WebSocket from "ws";
import { decodeEdgeFrames, SUBPROTOCOL } from "../protocol/index.js";

interface WorkerArgs {
  wsUrl: string;
  count: number;
  topics: string[];
  offset: number;
}

const args = JSON.parse(process.argv[2] ?? "{}") as WorkerArgs;
/** Latency histogram in 0.1 ms buckets up to 10 s: bounded memory whatever the message count. */
const BUCKET_MS = 0.1;
const histogram = new Uint32Array(100_000);
let delivered = 0;
let chainBreaks = 0;
let closedEarly = 0;
const sockets: WebSocket[] = [];

const wallClock = () => performance.timeOrigin + performance.now();

function open(index: number): Promise<void> {
  const topic = args.topics[(args.offset + index) % args.topics.length]!;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(args.wsUrl, [SUBPROTOCOL], { perMessageDeflate: false });
    let last = -1;
    ws.on("message", (raw) => {
      for (const frame of decodeEdgeFrames(raw.toString())) {
        if (frame.op === "subok") {
          last = frame.seq;
          resolve();
        } else if (frame.op === "msg") {
          if (frame.prev !== last) chainBreaks++;
          last = frame.seq;
          delivered++;
          const sentAt = (frame.data as { t: number }).t;
          const bucket = Math.min(
            histogram.length - 1,
            Math.max(0, Math.floor((wallClock() - sentAt) / BUCKET_MS)),
          );
          histogram[bucket]!++;
        }
      }
    });
    ws.once("open", () => ws.send(JSON.stringify({ op: "sub", topic })));
    ws.once("error", reject);
    ws.once("close", (code, reason) => {
      if (last === -1) reject(new Error(`connection closed before its subok: ${code} ${reason.toString()}`));
      if (!stopping) closedEarly++;
    });
    sockets.push(ws);
  });
}

let stopping = false;

/** [bucket, count] pairs of the non-empty buckets: a small IPC message. */
function sparse(buckets: Uint32Array): [number, number][] {
  const pairs: [number, number][] = [];
  buckets.forEach((count, bucket) => {
    if (count > 0) pairs.push([bucket, count]);
  });
  return pairs;
}

async function main(): Promise<void> {
  // Open in bounded parallel batches so the edge's upgrade guard is not the thing being measured.
  const BATCH = 200;
  for (let i = 0; i < args.count; i += BATCH) {
    await Promise.all(Array.from({ length: Math.min(BATCH, args.count - i) }, (_, k) => open(i + k)));
  }
  process.send!({ type: "ready" });
  process.on("message", (message: { type: string }) => {
    if (message.type !== "stop") return;
    stopping = true;
    for (const ws of sockets) ws.terminate();
    // The parent ends this process once it has the statistics (exiting here could overtake them).
    process.send!({ type: "stats", delivered, chainBreaks, closedEarly, histogram: sparse(histogram) });
  });
}

main().catch((error: unknown) => {
  process.send!({ type: "error", message: String(error) });
  process.exit(1);
});
