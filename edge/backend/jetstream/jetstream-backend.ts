// The production backend: NATS JetStream (docs/design.md#jetstream-backend). This module owns the connection
// and its state; the work is done by small modules:
//   stream-setup.ts  create/check the stream          stream-writer.ts  publish with a durable prev
//   reader.ts        direct get / ordered consumer    history.ts    read() with a sound `recovered`
//   live-feed.ts     per-topic live feed + gap repair
//   head-check.ts    finds live copies that were lost and that no later message reveals
//
// The edge serves (unready) without NATS: start() returns once the stream is checked or, when NATS
// cannot be reached, at once; the connection is then retried in the background with backoff. Only
// a definite refusal at start (an incompatible stream) makes start() throw.
import { readFileSync } from "node:fs";
import { type NatsConnection, type Status } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StreamInfo,
} from "@nats-io/jetstream";
import { topicProblem } from "../../../protocol/topic.js";
import { msgIdProblem } from "../../../protocol/msg-id.js";
import type { EdgeConfig } from "../../../shared/config.js";
import { natsConnectionOptions, type NatsAccess } from "../../../shared/nats-connection.js";
import { silentLogger, type Logger } from "../../common/log.js";
import type { EdgeMetrics } from "../../common/metrics.js";
import type { MemoryBudget } from "../../common/memory-budget.js";
import {
  BackendUnavailableError,
  type Backend,
  type BackendState,
  type BackendStatus,
  type LiveFeed,
  type LiveHandlers,
  type PublishInput,
  type PublishOutcome,
  type ReadFrom,
  type ReadResult,
} from "../backend.js";
import { fromLive } from "./codec.js";
import { JetStreamTimeoutError, unavailable } from "./errors.js";
import { readHistory } from "./history.js";
import { ConcurrencyLimit } from "./concurrency.js";
import { HeadChecker } from "./head-check.js";
import { TopicFeed, type FeedContext } from "./live-feed.js";
import { StreamWriter } from "./stream-writer.js";
import { readTail } from "./stream-tail.js";
import { StreamReader } from "./reader.js";
import { ensureStream, StreamIncompatibleError } from "./stream-setup.js";
import { epochOf } from "../../../shared/stream-info.js";
import {
  desiredStreamConfig,
  liveSubject,
  storedSubject,
  type DesiredStreamConfig,
} from "../../../shared/stream-config.js";

/**
 * How long start() waits for a reachable NATS's JetStream to answer (a cluster electing its meta
 * leader) so that an incompatible stream still stops the edge at start; after it, the edge goes on
 * unready and keeps checking.
 */
const START_PATIENCE_MS = 30_000;
/** Backoff between attempts to reach NATS when it was not there at start. */
const CONNECT_BACKOFF_MIN_MS = 250;
const CONNECT_BACKOFF_MAX_MS = 5000;
/**
 * The stream is asked for its info this often while the connection is up (and at once, at most
 * once per EPOCH_CHECK_INTERVAL_MS, when a publish or read fails): a stream without a leader,
 * deleted, or JetStream disabled turns /readyz to 503 instead of only failing publishes.
 */
const STREAM_PROBE_INTERVAL_MS = 5000;
/** JetStream reads in flight at once for catch-ups after a reconnect and for head checks. */
const BULK_READ_CONCURRENCY = 16;
/** Below this duplicate window a replicated stream gets a warning (see useStream). */
const MIN_REPLICATED_WINDOW_SECONDS = 30;
/** Pause between attempts to re-check the stream after a reconnect. */
const RECOVER_RETRY_MS = 500;
/** Request timeout for creating read consumers (a failed one falls back to direct gets). */
const CONSUMER_TIMEOUT_MS = 1500;
/** At most one "was the stream re-created?" check per this interval. */
const EPOCH_CHECK_INTERVAL_MS = 1000;

export class JetStreamBackend implements Backend {
  readonly kind = "jetstream" as const;
  private readonly desired: DesiredStreamConfig;
  private nc: NatsConnection | undefined;
  private jsm: JetStreamManager | undefined;
  private js: JetStreamClient | undefined;
  private consumerJs: JetStreamClient | undefined;
  private currentEpoch = "";
  private current: BackendStatus = { state: "connecting", detail: "not started" };
  private readonly listeners = new Set<(status: BackendStatus) => void>();
  private readonly feeds = new Set<TopicFeed>();
  private readonly reader: StreamReader;
  private readonly writer: StreamWriter;
  private readonly feedContext: FeedContext;
  private lastEpochCheck = 0;
  /** The epoch confirmation asking the stream, and the one that starts after it (see confirmEpoch). */
  private runningConfirmation: Promise<void> | undefined;
  private pendingConfirmation: Promise<void> | undefined;
  private epochCheck: Promise<void> | undefined;
  private recovering = false;
  /** Whether the NATS client currently has a connection (it reconnects by itself). */
  private connected = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly heads: HeadChecker;
  private incompatibleLogged = "";

  constructor(
    private readonly config: EdgeConfig,
    private readonly metrics: EdgeMetrics,
    private readonly log: Logger = silentLogger,
    /** The edge's memory budget: live copies queued behind a repair count against it. */
    budget?: MemoryBudget,
  ) {
    this.desired = desiredStreamConfig(config);
    this.reader = new StreamReader(
      () => this.manager(),
      () => this.consumerJs ?? this.client(),
      config.stream,
      config.subjectPrefix,
    );
    this.writer = new StreamWriter(
      () => this.client(),
      config.subjectPrefix,
      async (topic) => (await this.reader.last(topic))?.seq ?? 0,
      (topic, floor) =>
        readTail(
          this.manager(),
          config.stream,
          storedSubject(config.subjectPrefix, topic),
          floor,
          !this.writer.replicated,
        ),
      async (seq) => (await this.manager().streams.getMessage(config.stream, { seq }))?.time.getTime(),
    );
    const bulkReads = new ConcurrencyLimit(BULK_READ_CONCURRENCY);
    this.feedContext = {
      reader: this.reader,
      metrics,
      budget,
      reads: bulkReads,
      epoch: () => this.currentEpoch,
      subscribe: (topic, onMessage) => this.subscribeLive(topic, onMessage),
      confirmEpoch: () => this.confirmEpoch(),
      noteHead: (topic, seq) => this.writer.noteHead(topic, seq),
      closed: (feed) => this.feeds.delete(feed),
    };
    this.heads = new HeadChecker(
      () => [...this.feeds],
      this.reader,
      metrics,
      bulkReads,
      config.headCheckSeconds * 1000,
    );
  }

  async start(): Promise<void> {
    this.setStatus("connecting", `connecting to NATS at ${this.servers()}`);
    let nc: NatsConnection;
    try {
      nc = await this.connectOnce();
    } catch (err) {
      this.setStatus("unavailable", `cannot reach NATS at ${this.servers()} (${errorText(err)}), retrying`);
      void this.connectInBackground();
      return;
    }
    await this.attach(nc);
    try {
      const { info, drift } = await this.ensureStreamPatiently(this.manager());
      this.currentEpoch = epochOf(info);
      this.useStream(info.config, drift);
      this.setStatus("ready", this.readyDetail());
    } catch (err) {
      if (!(err instanceof BackendUnavailableError)) {
        await this.close();
        throw err;
      }
      // JetStream did not answer in time: serve unready and keep checking.
      this.setStatus(
        "unavailable",
        `NATS connected but stream ${this.config.stream} is not usable yet: ${err.message}`,
      );
      void this.recover();
    }
  }

  async close(): Promise<void> {
    this.setStatus("closed", "closed");
    this.metrics.natsConnected.set(0);
    clearInterval(this.probeTimer);
    this.heads.stop();
    for (const feed of [...this.feeds]) feed.close();
    await this.nc?.close();
  }

  status(): BackendStatus {
    return this.current;
  }

  onStatus(listener: (status: BackendStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  epoch(): string {
    return this.currentEpoch;
  }

  async confirmedEpoch(): Promise<string> {
    await this.confirmEpoch();
    return this.currentEpoch;
  }

  async publish(input: PublishInput): Promise<PublishOutcome> {
    const problem = topicProblem(input.topic);
    if (problem) throw new Error(problem);
    // The edge checks msgIds before (a 400, an err frame); both logs refuse the same ones anyway.
    const msgIdIssue = input.msgId === undefined ? undefined : msgIdProblem(input.msgId);
    if (msgIdIssue) throw new Error(msgIdIssue);
    this.ensureReady();
    try {
      return await this.writer.publish(input);
    } catch (err) {
      if (err instanceof JetStreamTimeoutError) this.metrics.jetstreamTimeouts.inc({ op: "publish" });
      if (err instanceof BackendUnavailableError) this.suspectStream();
      throw err;
    }
  }

  async read(topic: string, from: ReadFrom, limit: number): Promise<ReadResult> {
    // The hub counts this read in backendReads (by purpose); the backend counts only its own.
    this.ensureReady();
    try {
      // A read from the start (after 0, or the last K) means the same in every epoch: if the stream
      // was re-created meanwhile, it is read again in the new one (a few times at most).
      const anyEpoch = "last" in from || from.after === 0;
      for (let attempt = 1; ; attempt++) {
        const epoch = this.currentEpoch;
        const result = await readHistory(this.reader, epoch, topic, from, limit);
        if (result.messages.length === 0) return result;
        // Epoch before delivery: what was read belongs to `epoch` only if it is still the stream's.
        await this.confirmEpoch();
        if (this.currentEpoch === epoch) return result;
        if (!anyEpoch || attempt >= 3)
          return { epoch: this.currentEpoch, head: 0, recovered: false, messages: [] };
      }
    } catch (err) {
      const failure = unavailable(err, `reading ${topic}`);
      if (failure instanceof JetStreamTimeoutError) this.metrics.jetstreamTimeouts.inc({ op: "read" });
      if (failure instanceof BackendUnavailableError) this.suspectStream();
      throw failure;
    }
  }

  async live(topic: string, handlers: LiveHandlers): Promise<LiveFeed> {
    const problem = topicProblem(topic);
    if (problem) throw new Error(problem);
    this.ensureReady();
    let feed: TopicFeed;
    try {
      feed = await TopicFeed.open(topic, handlers, this.feedContext);
    } catch (err) {
      if (err instanceof JetStreamTimeoutError) this.metrics.jetstreamTimeouts.inc({ op: "subscribe" });
      if (err instanceof BackendUnavailableError) this.suspectStream();
      throw err;
    }
    this.feeds.add(feed);
    // Opened under an epoch that changed before it was registered: it missed the restart.
    if (feed.epoch !== this.currentEpoch) feed.restart();
    return feed;
  }

  /**
   * ensureStream, retried while JetStream is only temporarily unable to answer (a cluster electing
   * its meta leader, a node just restarted); a definite refusal is thrown at once.
   */
  private async ensureStreamPatiently(jsm: JetStreamManager): ReturnType<typeof ensureStream> {
    const deadline = Date.now() + START_PATIENCE_MS;
    while (true) {
      try {
        return await ensureStream(jsm, this.desired);
      } catch (err) {
        if (err instanceof StreamIncompatibleError) throw err;
        const failure = unavailable(err, `setting up stream ${this.config.stream}`);
        if (!(failure instanceof BackendUnavailableError) || Date.now() > deadline) throw failure;
        await new Promise((resolve) => setTimeout(resolve, RECOVER_RETRY_MS));
      }
    }
  }

  /**
   * The stream as checked: the writer takes what it needs of it, and the first time the edge warns
   * about limits that differ from its configuration and about a duplicate window too short for
   * replicas (docs/design.md#why-slots-and-claims-on-replicated-streams).
   */
  private useStream(config: StreamInfo["config"], drift: readonly string[] | undefined): void {
    this.writer.useStream(config);
    this.reader.replicated = config.num_replicas > 1;
    if (!drift) return;
    for (const line of drift)
      this.log.log("warn", "stream_drift", {
        detail: `${line} (left as it is: the stream's owner manages its limits)`,
      });
    const windowSeconds = (config.duplicate_window ?? 0) / 1e9;
    if (config.num_replicas > 1 && windowSeconds < MIN_REPLICATED_WINDOW_SECONDS)
      this.log.log("warn", "stream_short_window", {
        detail: `stream ${config.name} has ${config.num_replicas} replicas and a duplicate window of ${windowSeconds} s: a replica that is away longer than that can store a duplicate the others refused; keep it at ${MIN_REPLICATED_WINDOW_SECONDS} s or more (HERALD_DUPLICATE_WINDOW_SECONDS)`,
      });
  }

  private isClosed(): boolean {
    return this.current.state === "closed";
  }

  /** The NATS URLs for /readyz and logs: without user:password (URLs may carry credentials). */
  private servers(): string {
    return (this.config.natsUrl ?? []).map((url) => url.replace(/\/\/[^/]*@/, "//")).join(", ");
  }

  private readyDetail(): string {
    return `JetStream stream ${this.config.stream} via ${this.nc?.getServer() ?? "?"}`;
  }

  private connectOnce(): Promise<NatsConnection> {
    return connect({
      servers: this.config.natsUrl ?? [],
      name: "herald-edge",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 10_000,
      ...natsConnectionOptions(natsAccessOf(this.config)),
    });
  }

  /** NATS was not there at start: try again with backoff until it is, then set up the stream. */
  private async connectInBackground(): Promise<void> {
    let wait = CONNECT_BACKOFF_MIN_MS;
    while (!this.isClosed()) {
      await sleep(wait);
      if (this.isClosed()) return;
      let nc: NatsConnection;
      try {
        nc = await this.connectOnce();
      } catch (err) {
        this.setStatus("unavailable", `cannot reach NATS at ${this.servers()} (${errorText(err)}), retrying`);
        wait = Math.min(wait * 2, CONNECT_BACKOFF_MAX_MS);
        continue;
      }
      if (this.isClosed()) {
        await nc.close();
        return;
      }
      await this.attach(nc);
      await this.recover();
      return;
    }
  }

  /** Takes a fresh connection into use: JetStream clients, status watch, stream probe, head checks. */
  private async attach(nc: NatsConnection): Promise<void> {
    this.nc = nc;
    this.connected = true;
    this.metrics.natsConnected.set(1);
    // No API check: a JetStream that does not answer yet is the stream setup's business (retried).
    const domain = this.config.jetstreamDomain;
    this.jsm = await jetstreamManager(nc, { checkAPI: false, ...(domain ? { domain } : {}) });
    this.js = jetstream(nc, domain ? { domain } : {});
    this.consumerJs = jetstream(nc, { timeout: CONSUMER_TIMEOUT_MS, ...(domain ? { domain } : {}) });
    void this.watch(nc);
    this.probeTimer = setInterval(() => void this.probeStream(), STREAM_PROBE_INTERVAL_MS);
    this.probeTimer.unref();
    this.heads.start();
  }

  /** A publish or read failed although the edge was ready: ask the stream now (rate-limited). */
  private suspectStream(): void {
    if (Date.now() - this.lastEpochCheck >= EPOCH_CHECK_INTERVAL_MS) void this.probeStream();
  }

  /**
   * Asks the stream for its info while the connection is up and the edge believes it usable. When
   * it does not answer (no leader, deleted, JetStream off), the edge turns unready and the recover
   * loop checks until it is usable again.
   */
  private async probeStream(): Promise<void> {
    if (!this.connected || this.recovering || this.current.state !== "ready" || this.epochCheck) return;
    this.lastEpochCheck = Date.now();
    const probe = this.manager()
      .streams.info(this.config.stream)
      .then((info) => this.adoptEpoch(epochOf(withLeader(info))))
      .catch((err: unknown) => {
        if (!this.connected || this.current.state !== "ready") return;
        this.setStatus("unavailable", `stream ${this.config.stream} does not answer: ${errorText(err)}`);
        void this.recover();
      })
      .finally(() => {
        this.epochCheck = undefined;
      });
    this.epochCheck = probe;
    await probe;
  }

  private manager(): JetStreamManager {
    if (!this.jsm) throw new BackendUnavailableError("JetStream backend not started");
    return this.jsm;
  }

  private client(): JetStreamClient {
    if (!this.js) throw new BackendUnavailableError("JetStream backend not started");
    return this.js;
  }

  private ensureReady(): void {
    if (this.current.state !== "ready") {
      throw new BackendUnavailableError(`JetStream unavailable: ${this.current.detail}`);
    }
  }

  private setStatus(state: BackendState, detail: string): void {
    if (this.current.state === "closed") return;
    if (this.current.state === state && this.current.detail === detail) return;
    this.current = { state, detail };
    this.metrics.backendUp.set(state === "ready" ? 1 : 0);
    for (const listener of this.listeners) listener(this.current);
  }

  private async subscribeLive(topic: string, onMessage: Parameters<FeedContext["subscribe"]>[1]) {
    const nc = this.nc;
    if (!nc) throw new BackendUnavailableError("JetStream backend not started");
    const subscription = nc.subscribe(liveSubject(this.config.subjectPrefix, topic), {
      callback: (err, msg) => {
        if (!err) onMessage(fromLive(topic, msg));
      },
    });
    try {
      // Once the server has the subscription, every message stored from now on reaches it.
      await nc.flush();
    } catch (err) {
      subscription.unsubscribe();
      throw unavailable(err, `subscribing to ${topic}`);
    }
    return subscription;
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status() as AsyncIterable<Status>) {
      if (status.type === "disconnect") {
        this.connected = false;
        // Live copies may be lost from now on, and the stream re-created meanwhile: each feed
        // confirms the epoch before it delivers anything more.
        for (const feed of this.feeds) feed.suspect();
        this.metrics.natsConnected.set(0);
        this.setStatus("unavailable", `NATS connection lost (${status.server}), reconnecting`);
      } else if (status.type === "reconnect") {
        // Live copies sent meanwhile are lost: recover() makes every feed catch up. (A server cuts
        // a slow consumer's connection, so dropped copies end here too; nats.js's own slowConsumer
        // status is only raised for iterator subscriptions, which the edge does not use.)
        this.connected = true;
        this.metrics.natsConnected.set(1);
        this.metrics.natsReconnects.inc();
        void this.recover();
      }
    }
  }

  /**
   * NATS is back. Core subscriptions were re-established by the client; what was stored meanwhile
   * was not delivered live. Check the stream's epoch, then make every feed catch up from JetStream
   * (in order, before anything newer) — or restart at the new head when the stream was re-created.
   */
  private async recover(): Promise<void> {
    if (this.recovering) return;
    this.recovering = true;
    try {
      // Disconnected: the reconnect starts this again.
      while (this.nc && !this.nc.isClosed() && this.current.state !== "closed" && this.connected) {
        try {
          const first = this.currentEpoch === "";
          const { info, drift } = await ensureStream(this.manager(), this.desired);
          withLeader(info);
          this.useStream(info.config, first ? drift : undefined);
          this.adoptEpoch(epochOf(info));
          for (const feed of this.feeds) feed.catchUp();
          this.setStatus("ready", this.readyDetail());
          return;
        } catch (err) {
          if (err instanceof StreamIncompatibleError && this.incompatibleLogged !== err.message) {
            // Found after start (NATS was not reachable then): stay unready and say why, loudly.
            this.incompatibleLogged = err.message;
            this.log.log("error", "stream_incompatible", { detail: err.message });
          }
          if (this.connected)
            this.setStatus(
              "unavailable",
              `NATS connected but stream ${this.config.stream} is not usable: ${errorText(err)}`,
            );
          await sleep(RECOVER_RETRY_MS);
        }
      }
    } finally {
      this.recovering = false;
    }
  }

  /**
   * Epoch before delivery (docs/design.md#why-the-epoch-is-confirmed-before-delivery): resolves once
   * a stream info request that started after this call has answered and its epoch was adopted (feeds
   * restart when it changed); rejects when the stream cannot be asked. So whatever was read before
   * the call belongs to the epoch current after it, if that is the one current before it: a stream
   * deleted and re-created in between has another creation time. Concurrent callers share requests:
   * at most one runs, and one more waits for the callers that came while it ran.
   */
  private confirmEpoch(): Promise<void> {
    if (this.pendingConfirmation) return this.pendingConfirmation;
    if (!this.runningConfirmation) return this.startConfirmation();
    // The running one may have started before this call: the next one serves every caller until it starts.
    const pending = this.runningConfirmation
      .catch(() => undefined)
      .then(() => {
        this.pendingConfirmation = undefined;
        return this.startConfirmation();
      });
    this.pendingConfirmation = pending;
    return pending;
  }

  private startConfirmation(): Promise<void> {
    const run: Promise<void> = this.askEpoch().finally(() => {
      if (this.runningConfirmation === run) this.runningConfirmation = undefined;
    });
    this.runningConfirmation = run;
    return run;
  }

  private async askEpoch(): Promise<void> {
    this.lastEpochCheck = Date.now();
    this.adoptEpoch(epochOf(withLeader(await this.manager().streams.info(this.config.stream))));
  }

  /** A new epoch voids every position: feeds restart at the new stream's heads. */
  private adoptEpoch(epoch: string): void {
    if (epoch === this.currentEpoch) return;
    this.currentEpoch = epoch;
    this.writer.forgetHeads();
    for (const feed of this.feeds) feed.restart();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The stream's info, provided its group has a leader. A replicated stream that lost its quorum is
 * still answered for (nats-server 2.9 lets the members of a leaderless group reply with what they
 * hold, `cluster.leader` empty), but nothing can be stored or read through it.
 */
function withLeader(info: StreamInfo): StreamInfo {
  if (info.cluster && !info.cluster.leader)
    throw new Error("it has no leader (its replicas lost their quorum)");
  return info;
}

/** The edge's NATS credentials and TLS material, read from the files its configuration names. */
function natsAccessOf(config: EdgeConfig): NatsAccess {
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path, "utf8"));
  return {
    creds: read(config.natsCreds),
    nkeySeed: read(config.natsNkey),
    user: config.natsUser,
    password: config.natsPassword,
    tls: { ca: read(config.natsTlsCa), cert: read(config.natsTlsCert), key: read(config.natsTlsKey) },
  };
}
