// The production backend: NATS JetStream (DESIGN.md "Data path"). This module owns the connection
// and its state; the work is done by small modules:
//   stream-setup.ts  create/check the stream, epoch   publisher.ts  publish with a durable prev
//   reader.ts        direct get / ordered consumer    history.ts    read() with a sound `recovered`
//   live-feed.ts     per-topic live feed + gap repair
import { readFileSync } from "node:fs";
import { credsAuthenticator, type NatsConnection, type Status } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { topicProblem } from "../../../protocol/topic.js";
import type { EdgeConfig } from "../../config.js";
import type { EdgeMetrics } from "../../metrics.js";
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
import { unavailable } from "./errors.js";
import { readHistory } from "./history.js";
import { TopicFeed, type FeedContext } from "./live-feed.js";
import { Publisher } from "./publisher.js";
import { StreamReader } from "./reader.js";
import { ensureStream, epochOf, StreamIncompatibleError } from "./stream-setup.js";
import { desiredStreamConfig, liveSubject, type DesiredStreamConfig } from "./stream-config.js";

/** How long start() waits for JetStream to answer before giving up. */
const START_PATIENCE_MS = 30_000;
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
  private readonly publisher: Publisher;
  private readonly feedContext: FeedContext;
  private lastEpochCheck = 0;
  private epochCheck: Promise<void> | undefined;
  private recovering = false;

  constructor(private readonly config: EdgeConfig, private readonly metrics: EdgeMetrics) {
    this.desired = desiredStreamConfig(config);
    this.reader = new StreamReader(
      () => this.manager(),
      () => this.consumerJs ?? this.client(),
      config.stream,
      config.subjectPrefix,
    );
    this.publisher = new Publisher(
      () => this.client(),
      config.subjectPrefix,
      async (topic) => (await this.reader.last(topic))?.seq ?? 0,
      metrics,
    );
    this.feedContext = {
      reader: this.reader,
      metrics,
      epoch: () => this.currentEpoch,
      subscribe: (topic, onMessage) => this.subscribeLive(topic, onMessage),
      verifyEpoch: () => this.verifyEpoch(),
      noteHead: (topic, seq) => this.publisher.noteHead(topic, seq),
      closed: (feed) => this.feeds.delete(feed),
    };
  }

  async start(): Promise<void> {
    const servers = this.config.natsUrl ?? [];
    this.setStatus("connecting", `connecting to NATS at ${servers.join(", ")}`);
    try {
      this.nc = await connect({
        servers,
        name: "herald-edge",
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: 10_000,
        authenticator: this.config.natsCreds ? credsAuthenticator(readFileSync(this.config.natsCreds)) : undefined,
      });
    } catch (err) {
      this.setStatus("unavailable", "cannot connect to NATS");
      throw new Error(`cannot connect to NATS at ${servers.join(", ")}: ${err instanceof Error ? err.message : String(err)}`);
    }
    try {
      this.jsm = await jetstreamManager(this.nc);
      this.js = jetstream(this.nc);
      this.consumerJs = jetstream(this.nc, { timeout: CONSUMER_TIMEOUT_MS });
      const { info, drift } = await this.ensureStreamPatiently(this.jsm);
      this.currentEpoch = epochOf(info);
      for (const line of drift) console.warn(`herald: ${line} (left as it is: the stream's owner manages its limits)`);
    } catch (err) {
      await this.nc.close();
      this.setStatus("closed", "stream setup failed");
      throw err;
    }
    void this.watch(this.nc);
    this.setStatus("ready", `JetStream stream ${this.config.stream} via ${this.nc.getServer()}`);
  }

  async close(): Promise<void> {
    this.setStatus("closed", "closed");
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

  async publish(input: PublishInput): Promise<PublishOutcome> {
    const problem = topicProblem(input.topic);
    if (problem) throw new Error(problem);
    this.ensureReady();
    return this.publisher.publish(input);
  }

  async read(topic: string, from: ReadFrom, limit: number): Promise<ReadResult> {
    // The hub counts this read in backendReads (by purpose); the backend counts only its own.
    this.ensureReady();
    try {
      return await readHistory(this.reader, this.currentEpoch, topic, from, limit);
    } catch (err) {
      throw unavailable(err, `reading ${topic}`);
    }
  }

  async live(topic: string, handlers: LiveHandlers): Promise<LiveFeed> {
    const problem = topicProblem(topic);
    if (problem) throw new Error(problem);
    this.ensureReady();
    const feed = await TopicFeed.open(topic, handlers, this.feedContext);
    this.feeds.add(feed);
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
        this.setStatus("unavailable", `NATS connection lost (${status.server}), reconnecting`);
      } else if (status.type === "reconnect") {
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
      while (this.nc && !this.nc.isClosed() && this.current.state !== "closed") {
        try {
          const { info } = await ensureStream(this.manager(), this.desired);
          this.adoptEpoch(epochOf(info));
          for (const feed of this.feeds) feed.catchUp();
          this.setStatus("ready", `JetStream stream ${this.config.stream} via ${this.nc.getServer()}`);
          return;
        } catch (err) {
          this.setStatus("unavailable", `NATS reconnected but the stream is not usable yet: ${err instanceof Error ? err.message : String(err)}`);
          await new Promise((resolve) => setTimeout(resolve, RECOVER_RETRY_MS));
        }
      }
    } finally {
      this.recovering = false;
    }
  }

  /** Checks the stream's epoch, at most once per interval; concurrent callers share one check. */
  private verifyEpoch(): Promise<void> {
    if (this.epochCheck) return this.epochCheck;
    if (Date.now() - this.lastEpochCheck < EPOCH_CHECK_INTERVAL_MS) return Promise.resolve();
    this.lastEpochCheck = Date.now();
    this.epochCheck = this.manager()
      .streams.info(this.config.stream)
      .then((info) => this.adoptEpoch(epochOf(info)))
      .catch(() => {
        // Unreachable or gone: the reconnect path checks again.
      })
      .finally(() => {
        this.epochCheck = undefined;
      });
    return this.epochCheck;
  }

  /** A new epoch voids every position: feeds restart at the new stream's heads. */
  private adoptEpoch(epoch: string): void {
    if (epoch === this.currentEpoch) return;
    this.currentEpoch = epoch;
    this.publisher.forgetHeads();
    for (const feed of this.feeds) feed.restart();
  }
}
