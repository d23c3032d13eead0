// One load-generating process: opens `count` subscriber connections to the server under test
// (one process may hold at most 20,000 open files here, so a run spreads its connections over
// several of these), from loopback source addresses of its own, each subscribed to one topic; then
// counts every delivery, its latency (send time in the payload, same machine clock) and whether
// it continues its topic (payload number n, and for Herald the prev chain). Talks to the parent
// over IPC; exits when told to, when the parent goes away, or at its own time bound.
import WebSocket from "ws";
import { Histogram } from "../lib/histogram.js";
import { wallClock } from "../lib/payload.js";
import { PROTOCOLS, type Connection, type Kind, type Sink } from "./protocols.js";

export interface WorkerArgs {
  kind: Kind;
  url: string;
  count: number;
  topics: string[];
  /** Connection i subscribes to topics[(offset + i) % topics.length]. */
  offset: number;
  /** Loopback source addresses, used in turn (see source-addresses.ts). */
  localAddresses: string[];
  /** Connections being opened at once. */
  concurrency: number;
  /** The worker ends itself after this long, whatever happens. */
  maxSeconds: number;
  /**
   * Herald only: a connection that closes reconnects (same URL, after a random pause up to this
   * many ms) and resumes its topic from its last position, as the client SDK does.
   */
  resumeJitterMs?: number;
}

export type ToWorker = { type: "start"; args: WorkerArgs } | { type: "phase" } | { type: "stop" };
export type FromWorker =
  | { type: "ready"; connectMs: number }
  | { type: "error"; message: string }
  | { type: "progress"; delivered: number }
  | { type: "stats"; stats: PhaseStats };

export interface PhaseStats {
  delivered: number;
  /** Deliveries whose payload number does not follow the previous one of their connection. */
  outOfOrder: number;
  /** Herald deliveries whose prev is not the seq last delivered on their connection. */
  chainBreaks: number;
  closedEarly: number;
  histogram: [number, number][];
  /** Reconnects that got their subok again, and the time from close to that subok. */
  resumed: number;
  notRecovered: number;
  resumeHistogram: [number, number][];
}

process.on("disconnect", () => process.exit(0));
// The arguments come over IPC: 15,000 topic names do not fit in a command line.
const startBound = setTimeout(() => process.exit(3), 60_000);
const args = await new Promise<WorkerArgs>((resolve) =>
  process.once("message", (message: ToWorker) => {
    if (message.type === "start") resolve(message.args);
  }),
);
clearTimeout(startBound);
const protocol = PROTOCOLS[args.kind];
const send = (message: FromWorker) => process.send!(message);

setTimeout(() => process.exit(3), args.maxSeconds * 1000).unref();

interface State extends Connection {
  ws: WebSocket;
  /** Its source address: a reconnect binds the same one. */
  localAddress: string;
  nextN: number;
  lastSeq: number;
  epoch: string;
  subscribed: boolean;
  closedAt?: number;
  whenReady?: (error?: Error) => void;
}

const connections: State[] = [];
const histogram = new Histogram();
let delivered = 0;
let phaseDelivered = 0;
let outOfOrder = 0;
let chainBreaks = 0;
let closedEarly = 0;
let resumed = 0;
let notRecovered = 0;
const resumeHistogram = new Histogram();
let stopping = false;

const sink: Sink = {
  ready(c, subok) {
    const s = c as State;
    if (s.closedAt !== undefined) {
      resumed++;
      if (subok && !subok.recovered) notRecovered++;
      resumeHistogram.add(performance.now() - s.closedAt);
      s.closedAt = undefined;
    }
    if (subok) {
      s.lastSeq = subok.seq;
      s.epoch = subok.epoch;
    }
    if (s.subscribed) return;
    s.subscribed = true;
    s.whenReady?.();
  },
  deliver(c, t, n, seq, prev) {
    const s = c as State;
    if (n !== s.nextN && s.nextN !== -1) outOfOrder++;
    s.nextN = n + 1;
    if (seq !== undefined) {
      if (prev !== s.lastSeq) chainBreaks++;
      s.lastSeq = seq;
    }
    delivered++;
    phaseDelivered++;
    histogram.add(wallClock() - t);
  },
  fail(c, message) {
    (c as State).whenReady?.(new Error(`${args.kind} refused the subscription: ${message}`));
  },
};

function open(index: number): Promise<void> {
  const topic = args.topics[(args.offset + index) % args.topics.length]!;
  // nextN -1: the first delivery sets where this connection's count starts (a live subscriber
  // starts wherever its topic stands); every later one must follow it.
  const localAddress = args.localAddresses[index % args.localAddresses.length]!;
  const c = {
    topic,
    localAddress,
    pending: "",
    nextN: -1,
    lastSeq: -1,
    epoch: "",
    subscribed: false,
  } as State;
  connections.push(c);
  return new Promise((resolve, reject) => {
    c.whenReady = (error) => {
      c.whenReady = undefined;
      if (error) reject(error);
      else resolve();
    };
    connect(c);
  });
}

function connect(c: State): void {
  const ws = new WebSocket(protocol.url(args.url, c.topic), protocol.subprotocols, {
    perMessageDeflate: false,
    localAddress: c.localAddress,
  });
  c.ws = ws;
  c.pending = "";
  ws.on("message", (data: Buffer) => protocol.message(c, data.toString("latin1"), sink));
  ws.once("open", () => protocol.open(c));
  ws.once("error", (error) => c.whenReady?.(error));
  ws.once("close", (code, reason) => {
    c.whenReady?.(new Error(`closed before subscribing: ${code} ${reason.toString()}`));
    if (stopping) return;
    if (args.resumeJitterMs === undefined || !c.subscribed) {
      closedEarly++;
      return;
    }
    // Resume where the last delivery left off (the connection's count and chain continue).
    c.closedAt ??= performance.now();
    c.resumeFrom = { epoch: c.epoch, seq: c.lastSeq };
    setTimeout(() => connect(c), Math.random() * args.resumeJitterMs);
  });
}

function phaseStats(): PhaseStats {
  const stats = {
    delivered: phaseDelivered,
    outOfOrder,
    chainBreaks,
    closedEarly,
    histogram: histogram.sparse(),
    resumed,
    notRecovered,
    resumeHistogram: resumeHistogram.sparse(),
  };
  histogram.clear();
  resumeHistogram.clear();
  resumed = 0;
  notRecovered = 0;
  phaseDelivered = 0;
  outOfOrder = 0;
  chainBreaks = 0;
  closedEarly = 0;
  return stats;
}

async function main(): Promise<void> {
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < args.count) await open(next++);
  };
  await Promise.all(Array.from({ length: Math.min(args.concurrency, args.count) }, lane));
  send({ type: "ready", connectMs: performance.now() - started });
  setInterval(() => send({ type: "progress", delivered }), 25);
  process.on("message", (message: ToWorker) => {
    if (message.type === "phase") send({ type: "stats", stats: phaseStats() });
    else if (message.type === "stop") {
      stopping = true;
      for (const c of connections) c.ws.terminate();
      process.send!({ type: "stats", stats: phaseStats() } satisfies FromWorker, () => process.exit(0));
    }
  });
}

main().catch((error: unknown) => {
  process.send!({ type: "error", message: String(error) } satisfies FromWorker, () => process.exit(1));
});
