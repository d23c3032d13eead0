// The processes a run drives, and the faults it injects into them. Everything is real: edges are
// `node edge/main.ts` processes behind a TCP load balancer (clients and publishers reach any live
// edge through it), nats-server is one node or a 3-node JetStream cluster, and each edge of the
// single-node setup talks to NATS through its own TCP proxy (a link that can be cut).
//
// The model's ground truth comes from outside the edges: on JetStream a recorder reads the stream
// itself with nats.js (every stored message, its Herald-Prev and timestamp, before retention
// removes it) and reads the epoch from the stream's info; the embedded edge prints its epoch
// (epoch-probe.ts), which also re-creates its log on SIGUSR2.
import { fileURLToPath } from "node:url";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { epochOf, streamInfo } from "../../shared/stream-info.js";
import { spawnEdge, type EdgeProcess } from "../harness/edge-process.js";
import { freePort } from "../harness/free-port.js";
import {
  startNats,
  startNatsCluster,
  type NatsCluster,
  type NatsNode,
  type Teardown,
} from "../harness/nats-server.js";
import { startTcpBalancer, type TcpBalancer } from "../harness/tcp-balancer.js";
import { startTcpProxy, type TcpProxy } from "../harness/tcp-proxy.js";
import { sleep, waitFor } from "../harness/wait.js";
import { API_KEY, tagOf } from "./clients.js";
import type { LogModel } from "./model.js";

export type BackendName = "embedded" | "jetstream" | "jetstream-r3";

export const STREAM = "HERALD";
const PREFIX = "herald";
/** Recorder passes (150 ms apart) that must find no message at a seq before it counts as removed. */
const MISSES_BEFORE_GONE = 8;
const EPOCH_PROBE = fileURLToPath(new URL("./epoch-probe.ts", import.meta.url));

export type Fault =
  | { kind: "cut"; slot: number; ms: number }
  | { kind: "natsRestart" }
  | { kind: "leaderKill"; ms: number }
  | { kind: "edgeKill"; slot: number }
  | { kind: "drain"; slot: number }
  | { kind: "recreate" };

export const FAULTS: Record<BackendName, Fault["kind"][]> = {
  embedded: ["edgeKill", "drain", "recreate"],
  jetstream: ["cut", "natsRestart", "edgeKill", "drain", "recreate"],
  "jetstream-r3": ["leaderKill", "edgeKill", "drain", "recreate"],
};

class EdgeSlot {
  process: EdgeProcess | undefined;
  up = false;

  constructor(
    readonly index: number,
    readonly port: number,
    readonly proxy: TcpProxy | undefined,
  ) {}
}

export interface WorldOptions {
  readonly backend: BackendName;
  /** HERALD_* for every edge (retention, limits). */
  readonly env: Record<string, string>;
}

export class World {
  readonly slots: EdgeSlot[] = [];
  balancer!: TcpBalancer;
  nats: NatsNode | undefined;
  cluster: NatsCluster | undefined;
  recorder: StreamRecorder | undefined;
  /** What the faults did, for the report. */
  readonly faultLog: string[] = [];
  /** Edges that exited without being told to. */
  readonly unexpectedExits: string[] = [];
  closing = false;

  private constructor(
    private readonly scope: Teardown,
    readonly options: WorldOptions,
    private readonly model: LogModel,
  ) {}

  get jetstream(): boolean {
    return this.options.backend !== "embedded";
  }

  get natsUrls(): string[] {
    return this.cluster?.urls ?? (this.nats ? [this.nats.url] : []);
  }

  static async start(scope: Teardown, options: WorldOptions, model: LogModel): Promise<World> {
    const world = new World(scope, options, model);
    const edges = options.backend === "embedded" ? 1 : 2;
    if (options.backend === "jetstream") world.nats = await startNats(scope);
    if (options.backend === "jetstream-r3") world.cluster = await startNatsCluster(scope, 3);
    for (let i = 0; i < edges; i++) {
      const proxy = world.nats ? await startTcpProxy(scope, { port: world.nats.port }) : undefined;
      world.slots.push(new EdgeSlot(i, await freePort(), proxy));
    }
    world.balancer = await startTcpBalancer(scope, []);
    // One at a time: the first creates the stream, the next finds it.
    for (const slot of world.slots) await world.spawn(slot);
    if (world.jetstream) {
      world.recorder = await StreamRecorder.start(scope, world.natsUrls, model);
      const epoch = await world.recorder.epoch();
      model.beginEpoch(epoch, Date.now());
    }
    return world;
  }

  private async spawn(slot: EdgeSlot): Promise<void> {
    const env: Record<string, string> = {
      HERALD_API_KEYS: API_KEY,
      HERALD_ALLOW_ANONYMOUS: "true",
      HERALD_ANONYMOUS_PUBLISH: "true",
      HERALD_FRAMES_PER_SECOND: "100000",
      HERALD_PUBLISHES_PER_SECOND: "100000",
      HERALD_DRAIN_SECONDS: "1",
      HERALD_LOG_LEVEL: "error",
      ...this.options.env,
      HERALD_PORT: String(slot.port),
    };
    if (slot.proxy) env.HERALD_NATS_URL = slot.proxy.url;
    else if (this.cluster) {
      // Each edge lists the nodes in another order, as pods given one Service would reach them.
      const urls = [...this.cluster.urls];
      for (let i = 0; i < slot.index; i++) urls.push(urls.shift()!);
      env.HERALD_NATS_URL = urls.join(",");
      env.HERALD_STREAM_REPLICAS = "3";
    }
    const started = Date.now();
    const edge = await spawnEdge(this.scope, env, this.jetstream ? {} : { imports: [EPOCH_PROBE] });
    slot.process = edge;
    slot.up = true;
    void edge.exited.then((code) => {
      if (slot.process !== edge || !slot.up || this.closing) return;
      // Nobody stopped it: an edge that dies by itself is a finding, reported with its last words.
      slot.up = false;
      this.balancer.remove(slot.port);
      const said = `${edge.stderr()}${edge.stdout()}`.trim().split("\n").slice(-5).join(" | ");
      this.unexpectedExits.push(`edge ${slot.index} exited by itself with ${code}: ${said.slice(0, 600)}`);
    });
    if (!this.jetstream) {
      const epoch = await waitFor("the embedded epoch", () => probedEpochs(edge).at(-1), 30_000);
      this.model.beginEpoch(epoch, started);
    }
    this.balancer.add(slot.port);
  }

  /** The edges up now, for clients that connect straight to one. */
  liveEdges(): { index: number; wsUrl: string; url: string }[] {
    return this.slots
      .filter((slot) => slot.up)
      .map((slot) => ({
        index: slot.index,
        wsUrl: `ws://127.0.0.1:${slot.port}/v1/ws`,
        url: `http://127.0.0.1:${slot.port}`,
      }));
  }

  /** Every edge process is up and ready (after the faults healed). */
  async allReady(): Promise<void> {
    for (const slot of this.slots) {
      if (!slot.up) await this.spawn(slot);
      await waitFor(
        `edge ${slot.index} ready`,
        async () => {
          try {
            return (await fetch(`http://127.0.0.1:${slot.port}/readyz`)).status === 200;
          } catch {
            return false;
          }
        },
        90_000,
      );
    }
  }

  /** Injects one fault and heals it (a cut link restored, a killed node or edge started again). */
  async inject(fault: Fault, beforeHeal: () => Promise<void>): Promise<void> {
    const t0 = Date.now();
    const at = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
    switch (fault.kind) {
      case "cut": {
        const slot = this.slots[fault.slot % this.slots.length]!;
        slot.proxy?.cut();
        await sleep(fault.ms);
        slot.proxy?.restore();
        this.faultLog.push(`cut edge ${slot.index}'s NATS link for ${fault.ms} ms`);
        return;
      }
      case "natsRestart": {
        await this.nats!.restart();
        this.faultLog.push(`restarted nats-server (${at()})`);
        return;
      }
      case "leaderKill": {
        const leader = await this.cluster!.leaderOf(STREAM);
        await leader.stop("SIGKILL");
        await sleep(fault.ms);
        await leader.restart();
        this.faultLog.push(`SIGKILL of stream leader ${leader.name}, back after ${fault.ms} ms (${at()})`);
        return;
      }
      case "edgeKill":
      case "drain": {
        const slot = this.slots[fault.slot % this.slots.length]!;
        const edge = slot.process!;
        this.balancer.remove(slot.port);
        slot.up = false;
        edge.kill(fault.kind === "edgeKill" ? "SIGKILL" : "SIGTERM");
        await edge.exited;
        // An embedded edge's log dies with it: its history ends here.
        if (!this.jetstream) this.model.endEpoch(Date.now());
        await this.spawn(slot);
        this.faultLog.push(
          `${fault.kind === "edgeKill" ? "SIGKILL of" : "drained"} edge ${slot.index}, respawned (${at()})`,
        );
        return;
      }
      case "recreate": {
        // No publish is in flight (the caller waited), and the recorder has read the old stream.
        await beforeHeal();
        if (this.jetstream) await this.recreateStream();
        else await this.recreateEmbedded();
        this.faultLog.push(`re-created the log (${at()})`);
        return;
      }
    }
  }

  private async recreateStream(): Promise<void> {
    const recorder = this.recorder!;
    await recorder.caughtUp();
    const nc = await connect({ servers: this.natsUrls });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 10_000 });
      const info = await retried("stream info", () => jsm.streams.info(STREAM));
      const oldEpoch = epochOf(info);
      this.model.endEpoch(Date.now());
      // A loaded R3 cluster may answer late: each step is retried until its effect is seen.
      await retried("stream delete", async () => {
        // streamInfo: undefined only when JetStream definitely answered "no such stream".
        const now = await streamInfo(jsm, STREAM);
        if (now && epochOf(now) === oldEpoch) await jsm.streams.delete(STREAM);
      });
      await retried("stream add", async () => {
        // An edge may have created it first (with the same configuration): that is the new history.
        if (!(await streamInfo(jsm, STREAM))) await jsm.streams.add(info.config);
      });
      const epoch = epochOf(await retried("stream info", () => jsm.streams.info(STREAM)));
      if (epoch === oldEpoch) throw new Error("the re-created stream has the old epoch");
      this.model.beginEpoch(epoch, Date.now());
      await recorder.caughtUp();
    } finally {
      await nc.close();
    }
  }

  private async recreateEmbedded(): Promise<void> {
    const edge = this.slots[0]!.process!;
    const before = probedEpochs(edge).length;
    this.model.endEpoch(Date.now());
    edge.kill("SIGUSR2");
    const epoch = await waitFor(
      "the re-created embedded epoch",
      () => (probedEpochs(edge).length > before ? probedEpochs(edge).at(-1) : undefined),
      30_000,
    );
    this.model.beginEpoch(epoch, Date.now());
  }

  /** The log's epoch now (JetStream: from the stream itself). */
  async epochNow(): Promise<string | undefined> {
    if (this.recorder) return this.recorder.epoch();
    return this.model.currentEpoch;
  }
}

/** Runs `step` until it succeeds (a JetStream API request that timed out, a leader election). */
async function retried<T>(what: string, step: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: ${String(error)}`, { cause: error });
      await sleep(500);
    }
  }
}

/** The epochs an embedded edge printed (epoch-probe.ts), oldest first. */
function probedEpochs(edge: EdgeProcess): string[] {
  const epochs: string[] = [];
  for (const line of edge.stdout().split("\n")) {
    if (!line.includes("guarantee_epoch")) continue;
    try {
      const parsed = JSON.parse(line) as { event?: string; epoch?: string };
      if (parsed.event === "guarantee_epoch" && parsed.epoch) epochs.push(parsed.epoch);
    } catch {
      // another line
    }
  }
  return epochs;
}

/**
 * Reads every message of the stream as it is stored, with nats.js and not through any edge: the
 * model's ground truth. Polls the stream's info (from the leader) and gets each new seq with
 * STREAM.MSG.GET (also answered by the leader, never by a lagging replica).
 */
export class StreamRecorder {
  private cursor = 0;
  private current: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<boolean> | undefined;
  private stopped = false;
  /** Passes that found no message at a seq below the stream's last. */
  private readonly misses = new Map<number, number>();
  readonly decoder = new TextDecoder();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly model: LogModel,
  ) {}

  static async start(scope: Teardown, servers: string[], model: LogModel): Promise<StreamRecorder> {
    const nc = await connect({
      servers,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 200,
      timeout: 5_000,
    });
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    const recorder = new StreamRecorder(nc, jsm, model);
    scope.teardown(() => recorder.stop());
    recorder.schedule();
    return recorder;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling?.catch(() => undefined);
    await this.nc.close().catch(() => undefined);
  }

  async epoch(): Promise<string> {
    return waitFor("the stream's epoch", async () => (await this.pollOnce()) && this.current, 60_000);
  }

  /** Resolves after a complete read up to the stream's last seq as it was at the call. */
  async caughtUp(): Promise<void> {
    await waitFor("the recorder to read the stream", () => this.pollOnce(), 90_000);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.pollOnce().finally(() => this.schedule());
    }, 150);
  }

  /** One pass; true when it read everything up to the stream's last seq. */
  private pollOnce(): Promise<boolean> {
    const run = (this.polling ?? Promise.resolve(false)).then(() => this.pass());
    this.polling = run.catch(() => false);
    return this.polling;
  }

  private async pass(): Promise<boolean> {
    if (this.stopped) return false;
    let info;
    try {
      info = await this.jsm.streams.info(STREAM, { deleted_details: true });
    } catch {
      return false;
    }
    const epoch = epochOf(info);
    const deleted = new Set(info.state.deleted ?? []);
    if (epoch !== this.current) {
      this.current = epoch;
      this.cursor = 0;
    }
    const { first_seq: first, last_seq: last } = info.state;
    while (this.cursor < last) {
      const seq = this.cursor + 1;
      if (seq < first) {
        this.model.coverGone(epoch, seq);
        this.cursor = seq;
        continue;
      }
      let stored;
      try {
        stored = await this.jsm.streams.getMessage(STREAM, { seq });
      } catch {
        return false;
      }
      if (!stored) {
        // Removed (the stream lists it as deleted), or not applied yet by a leader just elected:
        // then asked again on the next passes before it counts as gone.
        const misses = (this.misses.get(seq) ?? 0) + 1;
        this.misses.set(seq, misses);
        if (!deleted.has(seq) && misses < MISSES_BEFORE_GONE) return false;
        this.misses.delete(seq);
        this.cursor = seq;
        this.model.coverGone(epoch, seq);
        continue;
      }
      this.misses.delete(seq);
      this.cursor = seq;
      this.model.cover(epoch, seq);
      const topic = stored.subject.startsWith(`${PREFIX}.t.`)
        ? stored.subject.slice(PREFIX.length + 3)
        : undefined;
      let tag: string | undefined;
      try {
        tag = tagOf(JSON.parse(this.decoder.decode(stored.data)));
      } catch {
        tag = undefined;
      }
      if (!topic || !tag) continue;
      const prev = stored.header?.get("Herald-Prev");
      const time = stored.time.getTime();
      this.model.learn({
        epoch,
        topic,
        seq,
        tag,
        storedMin: time,
        storedMax: time,
        ...(prev && /^\d+$/.test(prev) ? { storedPrev: Number(prev) } : {}),
        source: "recorder",
      });
    }
    return true;
  }
}
