// Publish throughput into one topic through one edge, beside raw nats.js async publishing into
// the same JetStream stream on the same nats-server: HTTP batches and WebSocket `pub` frames, each
// with many requests in flight. Afterwards the stored messages of each Herald topic are read back
// through the edge and their prev chain checked: throughput that broke continuity would not count.
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import WebSocket from "ws";
import { Cleanup } from "../cleanup.js";
import { payload } from "../lib/payload.js";
import { sampleAll } from "../lib/proc.js";
import { type Row } from "../lib/report.js";
import { startHerald, type HeraldEdge, type TargetOptions } from "../lib/targets.js";

export interface PublishOptions {
  readonly messages: number;
  /** WebSocket and raw publishes in flight. */
  readonly window: number;
  /** Messages per HTTP request; requests in flight (the edge hands a request's items to the log at once). */
  readonly batch: number;
  readonly httpInFlight: number;
  readonly backends: ("embedded" | "jetstream")[];
  /** Options of the Herald edges (a CPU profile). */
  readonly target?: TargetOptions;
}

/** Runs `count` jobs with at most `window` in flight; returns the messages per second. */
async function inFlight(count: number, window: number, job: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < count) await job(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function viaHttp(edge: HeraldEdge, topic: string, options: PublishOptions): Promise<number> {
  const batches = Math.ceil(options.messages / options.batch);
  const perSecond = await inFlight(batches, options.httpInFlight, async (b) => {
    const body = Array.from(
      { length: Math.min(options.batch, options.messages - b * options.batch) },
      (_, k) => `{"topic":"${topic}","data":${payload(b * options.batch + k)}}`,
    );
    const response = await fetch(`${edge.url}/v1/publish`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `[${body.join(",")}]`,
    });
    if (response.status !== 200)
      throw new Error(`publish answered ${response.status}: ${await response.text()}`);
    await response.arrayBuffer();
  });
  // inFlight counted batches: messages per second is that times the messages per batch.
  return perSecond * (options.messages / batches);
}

async function viaWs(edge: HeraldEdge, topic: string, options: PublishOptions): Promise<number> {
  const ws = new WebSocket(edge.wsUrl, ["herald.v1"], { perMessageDeflate: false });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const waiting = new Map<string, (error?: Error) => void>();
  ws.on("message", (data: Buffer) => {
    for (const line of data.toString().split("\n")) {
      const frame = JSON.parse(line) as { op: string; id?: string; message?: string };
      const done = frame.id === undefined ? undefined : waiting.get(frame.id);
      if (!done) continue;
      waiting.delete(frame.id!);
      done(frame.op === "ack" ? undefined : new Error(`publish refused: ${line}`));
    }
  });
  try {
    return await inFlight(options.messages, options.window, (i) => {
      return new Promise<void>((resolve, reject) => {
        waiting.set(String(i), (error) => (error ? reject(error) : resolve()));
        ws.send(`{"op":"pub","topic":"${topic}","data":${payload(i)},"id":"${i}"}`);
      });
    });
  } finally {
    ws.terminate();
  }
}

async function rawNats(natsUrl: string, topic: string, options: PublishOptions): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  try {
    const js = jetstream(nc);
    const encoder = new TextEncoder();
    // The same stream's subjects (prefix "herald", stored on herald.t.<topic>), no Herald headers.
    return await inFlight(options.messages, options.window, async (i) => {
      await js.publish(`herald.t.${topic}`, encoder.encode(payload(i)));
    });
  } finally {
    await nc.close();
  }
}

/** Reads the topic back through the edge: how many are stored and whether each one's prev is the one before. */
async function continuity(edge: HeraldEdge, topic: string): Promise<{ stored: number; breaks: number }> {
  let after = 0;
  let stored = 0;
  let breaks = 0;
  for (;;) {
    const response = await fetch(`${edge.url}/v1/topics/${topic}/messages?after=${after}&limit=1000`);
    const page = (await response.json()) as { recovered: boolean; messages: { seq: number; prev: number }[] };
    if (!page.recovered) breaks++;
    if (page.messages.length === 0) return { stored, breaks };
    for (const message of page.messages) {
      if (message.prev !== after) breaks++;
      after = message.seq;
      stored++;
    }
  }
}

export async function publish(options: PublishOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for (const backend of options.backends) {
    const cleanup = new Cleanup();
    try {
      const edge = await startHerald(cleanup, backend === "jetstream", options.target);
      const runs: [string, string, () => Promise<number>][] = [
        ["HTTP batches", "bench.pub-http", () => viaHttp(edge, "bench.pub-http", options)],
        ["WebSocket pub", "bench.pub-ws", () => viaWs(edge, "bench.pub-ws", options)],
      ];
      if (edge.natsUrl)
        runs.push([
          "raw nats.js js.publish",
          "bench.pub-raw",
          () => rawNats(edge.natsUrl!, "bench.pub-raw", options),
        ]);
      for (const [how, topic, run] of runs) {
        const before = sampleAll(edge.pids);
        const perSecond = await run();
        const after = sampleAll(edge.pids);
        const raw = how.startsWith("raw");
        const check = raw ? undefined : await continuity(edge, topic);
        rows.push({
          backend,
          how,
          messages: options.messages,
          "in flight": how.startsWith("HTTP") ? `${options.httpInFlight} x ${options.batch}` : options.window,
          "msg/s": Math.round(perSecond),
          "server CPU s": Math.round((after.cpuSeconds - before.cpuSeconds) * 100) / 100,
          stored: check ? check.stored : "(not read)",
          "prev breaks": check ? check.breaks : "(no prev)",
        });
      }
    } finally {
      await cleanup.run();
    }
  }
  return rows;
}
