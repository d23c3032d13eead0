// One run: starts the processes of a scenario's backend, drives its steps with real clients,
// heals every fault, publishes a marker on every topic and waits until every subscription still in
// force reached it, then holds all observations against the model (checker.ts).
import type { SubscribeFrom } from "../../client/node.js";
import type { Teardown } from "../harness/nats-server.js";
import { check, learnFromDeliveries, type Chain, type Counts } from "./checker.js";
import type { FromPosition, HistoryResponse } from "../../protocol/index.js";
import { TestClient } from "../harness/ws-client.js";
import { API_KEY, Publisher, RawSubscriber, SdkSubscriber, tagOf, type PublishRequest } from "./clients.js";
import { LogModel, type Position } from "./model.js";
import { payloadFor, type FromSpec, type Scenario, type Step } from "./scenario.js";
import { World } from "./world.js";
import { sleep } from "../harness/wait.js";

const FRAME_LIMIT = 65_536;
/** A `pub` frame carries op, topic, id and msgId around the data. */
const WS_FRAME_OVERHEAD = 400;

export interface RunResult {
  readonly scenario: Scenario;
  readonly counts: Counts;
  readonly details: string[];
  readonly faults: string[];
  readonly ms: number;
  /** How long the end took to converge (every subscription at the head). */
  readonly settleMs: number;
  readonly notes: string[];
}

export async function runScenario(
  scope: Teardown,
  scenario: Scenario,
  log: (line: string) => void = () => {},
): Promise<RunResult> {
  const started = Date.now();
  const { profile } = scenario;
  const model = new LogModel({
    backend: scenario.backend === "embedded" ? "embedded" : "jetstream",
    maxAgeMs: profile.maxAgeSeconds * 1000,
    maxMsgs: profile.maxMsgsPerTopic,
    dupWindowMs: profile.dupWindowSeconds * 1000,
  });
  const world = await World.start(
    scope,
    {
      backend: scenario.backend,
      env: {
        HERALD_MAX_AGE_SECONDS: String(profile.maxAgeSeconds),
        HERALD_MAX_MSGS_PER_TOPIC: String(profile.maxMsgsPerTopic),
        HERALD_DUPLICATE_WINDOW_SECONDS: String(profile.dupWindowSeconds),
        HERALD_CACHE_PER_TOPIC: String(profile.cachePerTopic),
        HERALD_HISTORY_LIMIT: String(profile.historyLimit),
        HERALD_SEND_BUFFER_BYTES: String(profile.sendBufferBytes),
        HERALD_HEAD_CHECK_SECONDS: "2",
      },
    },
    model,
  );
  const run = new Run(scenario, model, world, log);
  scope.teardown(() => {
    world.closing = true;
    run.stop();
  });
  for (const [index, step] of scenario.steps.entries()) {
    try {
      await run.step(step);
      if (world.unexpectedExits.length > 0) throw new Error(world.unexpectedExits.join("; "));
    } catch (error) {
      throw new Error(
        `seed ${scenario.seed} ${scenario.backend}: step ${index} ${JSON.stringify(step)} failed: ${String(error)}`,
        {
          cause: error,
        },
      );
    }
  }
  const settleStarted = Date.now();
  const finalEpoch = await run.settle();
  const settleMs = Date.now() - settleStarted;
  if (world.unexpectedExits.length > 0) throw new Error(world.unexpectedExits.join("; "));
  world.closing = true;
  run.stop();
  await world.recorder?.caughtUp();
  const chains = run.chains();
  learnFromDeliveries(model, chains);
  const verdict = check(model, chains, finalEpoch);
  return {
    scenario,
    counts: verdict.counts,
    details: [
      ...verdict.details,
      ...model.conflicts.map((c) => `model conflict: ${c.detail}`),
      ...run.diagnosis.map((d) => `diagnosis: ${d}`),
    ],
    faults: world.faultLog,
    ms: Date.now() - started,
    settleMs,
    notes: run.notes(),
  };
}

class Run {
  private readonly raws: RawSubscriber[];
  private readonly sdks: SdkSubscriber[];
  private readonly publisher: Publisher;
  private readonly topics: string[];
  private fault: Promise<void> | undefined;
  private tags = 0;
  /** msgIds used so far per topic (for reuse within and across topics). */
  private readonly msgIds = new Map<string, string[]>();
  private stopped = false;
  /** HTTP history reads, each a chain of one segment. */
  private readonly histories: Chain[] = [];
  private historyReads = 0;
  /** Why the end did not converge, if it did not. */
  readonly diagnosis: string[] = [];
  /** Runs whose first marker did not reach every subscription within max_age. */
  secondMarkers = 0;

  constructor(
    private readonly scenario: Scenario,
    private readonly model: LogModel,
    private readonly world: World,
    private readonly log: (line: string) => void,
  ) {
    const { balancer } = world;
    this.topics = Array.from({ length: scenario.topics }, (_, i) => `g${scenario.seed}.t${i}`);
    this.raws = Array.from(
      { length: scenario.raw },
      (_, i) => new RawSubscriber(`raw${i}`, () => world.liveEdges()),
    );
    this.sdks = Array.from({ length: scenario.sdk }, (_, i) => new SdkSubscriber(`sdk${i}`, balancer.url));
    this.publisher = new Publisher(model, balancer.url, balancer.wsUrl);
    for (const raw of this.raws) raw.start();
  }

  chains(): Chain[] {
    return [...this.raws.flatMap((r) => r.chains), ...this.sdks.flatMap((s) => s.chains), ...this.histories];
  }

  notes(): string[] {
    const codes = new Map<number, number>();
    for (const raw of this.raws)
      for (const [code, n] of raw.closeCodes) codes.set(code, (codes.get(code) ?? 0) + n);
    return [
      `publish retries ${this.publisher.retries}`,
      ...(this.secondMarkers > 0
        ? ["the first marker did not reach everyone within max_age: a second one followed"]
        : []),
      `raw connections ${this.raws.reduce((n, r) => n + r.connections, 0)}, closes ${JSON.stringify(Object.fromEntries(codes))}`,
    ];
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const raw of this.raws) raw.stop();
    for (const sdk of this.sdks) sdk.stop();
    this.publisher.close();
  }

  async step(step: Step): Promise<void> {
    switch (step.op) {
      case "publish": {
        const topic = this.topics[step.topic]!;
        const { msgId, retry } = this.msgIdFor(topic, step.msgId);
        const limit = step.via === "http" ? FRAME_LIMIT : FRAME_LIMIT - WS_FRAME_OVERHEAD;
        const request: PublishRequest = {
          topic,
          data: payloadFor(this.tag(), step.payload, limit),
          msgId,
          retry,
        };
        await this.publisher.publish(step.via, [request]);
        return;
      }
      case "batch": {
        const requests: PublishRequest[] = [];
        for (let i = 0; i < step.count; i++) {
          const topic = this.topics[(step.topic + (step.spread ? i : 0)) % this.topics.length]!;
          const msgId = `id-${this.tags + 1}`;
          this.remember(topic, msgId);
          const payload = { ...step.payload, seed: step.payload.seed + i };
          // A batch body may take 16 times the frame limit: keep each message well inside it.
          requests.push({ topic, data: payloadFor(this.tag(), payload, FRAME_LIMIT), msgId, retry: true });
        }
        await this.publisher.publish("batch", requests);
        return;
      }
      case "burst": {
        const topic = this.topics[step.topic]!;
        const publishes: Promise<void>[] = [];
        for (let i = 0; i < step.count; i++) {
          const msgId = `id-${this.tags + 1}`;
          this.remember(topic, msgId);
          const payload = { ...step.payload, seed: step.payload.seed + i };
          const request = { topic, data: payloadFor(this.tag(), payload, FRAME_LIMIT), msgId, retry: true };
          publishes.push(this.publisher.publish("http", [request]));
        }
        await Promise.all(publishes);
        return;
      }
      case "sub": {
        const topic = this.topics[step.topic]!;
        const raw = this.raws[step.who];
        if (raw) {
          if (raw.has(topic)) return;
          raw.subscribe(topic, this.rawFrom(topic, step.from));
          return;
        }
        const sdk = this.sdks[step.who - this.raws.length]!;
        if (sdk.has(topic)) return;
        sdk.subscribe(
          topic,
          this.sdkFrom(topic, step.from),
          step.slowMs > 0 ? { slowMs: step.slowMs, maxPending: 3 } : {},
        );
        return;
      }
      case "subMany": {
        const raw = this.raws[step.who];
        for (const topic of this.topics) {
          if (raw) {
            if (!raw.has(topic)) raw.subscribe(topic, step.last > 0 ? { last: step.last } : undefined);
          } else {
            const sdk = this.sdks[step.who - this.raws.length]!;
            if (!sdk.has(topic)) sdk.subscribe(topic, step.last > 0 ? { last: step.last } : "live");
          }
        }
        return;
      }
      case "unsub": {
        const topic = this.topics[step.topic]!;
        const raw = this.raws[step.who];
        if (raw) await raw.unsubscribe(topic);
        else this.sdks[step.who - this.raws.length]!.unsubscribe(topic);
        return;
      }
      case "resub": {
        const topic = this.topics[step.topic]!;
        const raw = this.raws[step.who];
        if (raw) await raw.resubscribe(topic);
        else this.sdks[step.who - this.raws.length]!.resubscribe(topic);
        return;
      }
      case "reconnect":
        this.raws[step.who]?.reconnect();
        return;
      case "slow":
        this.raws[step.who]?.pause(step.ms);
        return;
      case "wait":
        await sleep(step.ms);
        return;
      case "history":
        await this.history(this.topics[step.topic]!, step.from, step.limit, step.edge);
        return;
      case "age":
        await sleep(this.scenario.profile.maxAgeSeconds * 1000 + 1500);
        return;
      case "gap":
        await this.gap(step.who, this.topics[step.topic]!, step.count);
        return;
      case "fault": {
        await this.fault;
        const { fault } = step;
        await sleep(step.delayMs);
        this.log(`fault ${JSON.stringify(fault)}`);
        const quiesce = async () => {
          await this.publisher.idle();
          await this.world.recorder?.caughtUp();
        };
        const injected = this.world.inject(fault, quiesce);
        // A recreate is the end of a history: nothing else happens meanwhile. Other faults run
        // while the next steps go on (publishes in flight when a link is cut, a leader dies...).
        if (fault.kind === "recreate") await injected;
        else this.fault = injected;
        return;
      }
    }
  }

  /**
   * Reads the durable history over HTTP, as a one-segment chain: recovered exactly when it must
   * be, and a page of consecutive messages of the log (from the asked position, or from the oldest
   * retained one).
   */
  private async history(topic: string, spec: FromSpec, limit: number, pick: number): Promise<void> {
    const edges = this.world.liveEdges();
    const edge = edges[pick % Math.max(1, edges.length)];
    if (!edge) return;
    const position = this.position(topic, spec);
    const after = position?.seq ?? 0;
    const tSend = Date.now();
    let body: HistoryResponse;
    try {
      const response = await fetch(`${edge.url}/v1/topics/${topic}/messages?after=${after}&limit=${limit}`, {
        headers: { authorization: `Bearer ${API_KEY}` },
        signal: AbortSignal.timeout(15_000),
      });
      if (response.status !== 200) return; // 503 while the log is unreachable
      body = (await response.json()) as HistoryResponse;
    } catch {
      return;
    }
    const tAnswer = Date.now();
    const start = body.recovered ? after : (body.messages[0]?.prev ?? after);
    this.histories.push({
      id: `http#${++this.historyReads}`,
      client: "raw",
      topic,
      active: false,
      segments: [
        {
          epoch: body.epoch,
          start,
          recovered: body.recovered,
          cause: "resume",
          // HTTP names no epoch: `after` is read in the one the edge answers with.
          asked: { epoch: body.epoch, seq: after },
          tSend,
          tAnswer,
          deliveries: body.messages.map((m) => ({
            seq: m.seq,
            prev: m.prev,
            tag: tagOf(m.data),
            t: tAnswer,
          })),
        },
      ],
    });
  }

  /** Away from a topic while its messages age out, a new one comes, then resume from before. */
  private async gap(who: number, topic: string, count: number): Promise<void> {
    const raw = this.raws[who];
    const sdk = raw ? undefined : this.sdks[who - this.raws.length]!;
    if (!(raw ?? sdk)!.has(topic)) {
      if (raw) raw.subscribe(topic, undefined);
      else sdk!.subscribe(topic, "live");
      for (let i = 0; i < 100 && !(raw ?? sdk)!.position(topic); i++) await sleep(30);
    }
    const chain = raw ? await raw.unsubscribe(topic) : sdk!.unsubscribe(topic);
    if (!chain) return;
    for (let i = 0; i < count; i++)
      await this.step({
        op: "publish",
        topic: this.topics.indexOf(topic),
        via: "http",
        payload: { kind: "mixed", size: "small", seed: i },
        msgId: "fresh",
      });
    await sleep(this.scenario.profile.maxAgeSeconds * 1000 + 1800);
    await this.step({
      op: "publish",
      topic: this.topics.indexOf(topic),
      via: "http",
      payload: { kind: "cjk", size: "small", seed: 7 },
      msgId: "fresh",
    });
    if (raw) raw.resume(chain);
    else sdk!.resume(chain);
  }

  /** Heals everything, publishes a marker on every topic, waits for every subscription to reach it. */
  async settle(): Promise<string | undefined> {
    await this.fault;
    await this.publisher.idle();
    await this.world.allReady();
    for (const raw of this.raws) raw.resumeReading();
    // With a max_age of seconds, a marker whose live copy an edge lost can leave retention before
    // the edge repairs it (the head check, a lagging replica): nothing can deliver it then, and
    // only a later message of the topic reveals it. So there, when the first marker did not reach
    // everyone within max_age, a second one follows: the subscriber must then be told
    // (recovered:false) or given everything. With long retention one marker must reach everyone.
    const rounds = this.scenario.profile.name === "retention" ? 2 : 1;
    let epoch: string | undefined;
    for (let round = 1; round <= rounds; round++) {
      const markers = this.topics.map((topic) => {
        const msgId = `marker-${this.tags + 1}`;
        return this.publisher.publish("marker", [
          { topic, data: { k: this.tag(), p: `marker ${round}` }, msgId, retry: true },
        ]);
      });
      await Promise.all(markers);
      await this.world.recorder?.caughtUp();
      epoch = await this.world.epochNow();
      if (epoch === undefined) return undefined;
      const wait =
        round < rounds
          ? this.scenario.profile.maxAgeSeconds * 1000 + 2000
          : this.scenario.backend === "jetstream-r3"
            ? 45_000
            : 30_000;
      const deadline = Date.now() + wait;
      while (Date.now() < deadline) {
        if (
          this.raws.every((r) => r.settled(this.model, epoch!)) &&
          this.sdks.every((s) => s.settled(this.model, epoch!))
        )
          return epoch;
        await sleep(100);
      }
      if (round < rounds) this.secondMarkers++;
    }
    if (epoch === undefined) return undefined;
    await this.diagnose(epoch);
    return epoch;
  }

  /** Why subscriptions did not reach the head: where each stands, and what each edge answers there. */
  private async diagnose(epoch: string): Promise<void> {
    const probes = new Map<string, FromPosition>();
    for (const raw of this.raws) {
      for (const behind of raw.behind(this.model, epoch)) {
        this.diagnosis.push(
          `${raw.name} (on edge ${raw.edge}) ${behind.topic}: ${behind.state} at ${JSON.stringify(behind.position)}, head ${this.model.head(epoch, behind.topic)}`,
        );
        if (behind.position) probes.set(behind.topic, behind.position);
      }
    }
    for (const [topic, position] of probes) {
      for (const edge of this.world.liveEdges()) {
        const client = await TestClient.ready(edge.wsUrl).catch(() => undefined);
        if (!client) continue;
        try {
          const subok = await client.subscribe(topic, position).catch((error: unknown) => String(error));
          await sleep(3000);
          const seqs = client.messages(topic).map((m) => m.seq);
          const history = await fetch(`${edge.url}/v1/topics/${topic}/messages?after=${position.seq}`, {
            headers: { authorization: `Bearer ${API_KEY}` },
          })
            .then((r) => r.text())
            .catch((error: unknown) => String(error));
          this.diagnosis.push(
            `edge ${edge.index}, a new resume of ${topic} from ${position.seq}: ${JSON.stringify(subok)} then seqs ${JSON.stringify(seqs)}; history: ${history.slice(0, 300)}`,
          );
        } finally {
          client.close();
        }
      }
    }
  }

  private tag(): string {
    return `${this.scenario.seed}-${++this.tags}`;
  }

  private remember(topic: string, msgId: string): void {
    const list = this.msgIds.get(topic) ?? [];
    list.push(msgId);
    this.msgIds.set(topic, list);
  }

  private msgIdFor(topic: string, spec: string): { msgId: string | undefined; retry: boolean } {
    if (spec === "sameTopic") {
      const used = this.msgIds.get(topic)?.at(-1);
      if (used) return { msgId: used, retry: false };
    }
    if (spec === "otherTopic") {
      const others = [...this.msgIds.entries()].filter(([t, ids]) => t !== topic && ids.length > 0);
      const used = others.at(-1)?.[1].at(-1);
      if (used) {
        this.remember(topic, used);
        return { msgId: used, retry: false };
      }
    }
    if (spec === "none") return { msgId: undefined, retry: false };
    const msgId = `id-${this.tags + 1}`;
    this.remember(topic, msgId);
    return { msgId, retry: true };
  }

  private position(topic: string, spec: FromSpec): Position | undefined {
    const epoch = this.model.currentEpoch ?? this.model.epochs.at(-1)?.epoch;
    if (!epoch) return undefined;
    const log = this.model.log(epoch, topic);
    switch (spec.kind) {
      case "valid": {
        const back = spec.pick % (Math.min(6, log.length) + 1);
        return { epoch, seq: back === 0 ? (log.at(-1)?.seq ?? 0) : log[log.length - back]!.seq };
      }
      case "aged":
        return { epoch, seq: log[0]?.seq ?? 1 };
      case "future":
        return { epoch, seq: this.model.highestSeq(epoch) + 1000 };
      case "foreign": {
        const older = this.model.epochs.filter((e) => e.epoch !== epoch).at(-1)?.epoch;
        if (older) return { epoch: older, seq: this.model.head(older, topic) };
        return { epoch: `foreign-${this.scenario.seed}`, seq: log.at(-1)?.seq ?? 0 };
      }
      default:
        return undefined;
    }
  }

  private rawFrom(
    topic: string,
    spec: FromSpec,
  ): { epoch: string; seq: number } | { last: number } | undefined {
    if (spec.kind === "live") return undefined;
    if (spec.kind === "last") return { last: spec.k };
    return this.position(topic, spec);
  }

  private sdkFrom(topic: string, spec: FromSpec): SubscribeFrom {
    if (spec.kind === "live") return "live";
    if (spec.kind === "last") return { last: spec.k };
    return this.position(topic, spec) ?? "live";
  }
}
