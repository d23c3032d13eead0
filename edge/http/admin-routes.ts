// GET /v1/admin/stats on the internal port (HERALD_METRICS_PORT), for an API key only: what this
// edge holds right now (connections, subscriptions, topics), its busiest topics by local
// subscribers and by message rate, and the backend's state. Never served on the public port.
import type { FastifyInstance } from "fastify";
import type { Authenticator } from "../auth/grants.js";
import type { TopicStats } from "../hub/hub.js";
import { RequestError } from "../requests/request-error.js";

export interface AdminDeps {
  readonly authenticator: Authenticator;
  /** Whether any API key is configured (HERALD_API_KEYS): without one, nobody may read the stats. */
  readonly apiKeysConfigured: boolean;
  readonly connections: () => number;
  readonly topicStats: () => Iterable<TopicStats>;
  /** The backend's kind (embedded, jetstream) and status, as /readyz reports it. */
  readonly backend: () => { kind: string; state: string; detail: string };
}

/** Topics listed in each top list. */
const TOP = 10;
/**
 * Rates are measured against the older of two per-topic samples taken 30 s apart: over the last
 * 30 to 60 s, for two counts per topic (an edge may hold 100,000 topics).
 */
const SAMPLE_MS = 30_000;
const SAMPLES = 2;

export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const rates = new RateWindow(deps.topicStats);
  app.addHook("onClose", async () => rates.stop());
  app.get("/v1/admin/stats", async (request) => {
    const header = request.headers.authorization;
    if (!deps.apiKeysConfigured)
      throw new RequestError(
        "unauthenticated",
        "GET /v1/admin/stats needs an API key, and this edge has none (set HERALD_API_KEYS)",
      );
    const key = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "")?.[1];
    if (key === undefined) throw new RequestError("unauthenticated", "send Authorization: Bearer <API key>");
    if (!deps.authenticator.verifyApiKey(key)) throw new RequestError("unauthenticated", "unknown API key");

    const topics = [...deps.topicStats()];
    const rate = rates.perSecond();
    const withRate = topics.map((t) => ({
      topic: t.topic,
      subscribers: t.subscribers,
      messagesPerSecond: round(rate.get(t.topic) ?? 0),
    }));
    const top = (by: (t: (typeof withRate)[number]) => number) =>
      [...withRate].sort((a, b) => by(b) - by(a) || (a.topic < b.topic ? -1 : 1)).slice(0, TOP);
    const backend = deps.backend();
    return {
      connections: deps.connections(),
      subscriptions: topics.reduce((sum, t) => sum + t.subscribers, 0),
      topics: topics.length,
      topTopicsBySubscribers: top((t) => t.subscribers),
      topTopicsByRate: top((t) => t.messagesPerSecond),
      rateWindowSeconds: rates.windowSeconds(),
      backend: { kind: backend.kind, state: backend.state, detail: backend.detail },
    };
  });
}

/** Per-topic message counts sampled every 30 s, so that a rate covers the last 30 to 60 s. */
class RateWindow {
  private readonly samples: { at: number; counts: Map<string, number> }[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly stats: () => Iterable<TopicStats>) {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  windowSeconds(): number {
    const oldest = this.samples[0];
    return oldest ? round((Date.now() - oldest.at) / 1000) : 0;
  }

  /** Messages per second per topic, between the oldest sample and now. */
  perSecond(): Map<string, number> {
    const now = this.snapshot();
    const oldest = this.samples[0]!;
    const seconds = (Date.now() - oldest.at) / 1000;
    const rates = new Map<string, number>();
    if (seconds <= 0) return rates;
    for (const [topic, count] of now) {
      // A topic that appeared since (or was re-opened) counts from zero.
      const before = oldest.counts.get(topic) ?? 0;
      rates.set(topic, Math.max(0, count - (count >= before ? before : 0)) / seconds);
    }
    return rates;
  }

  private sample(): void {
    this.samples.push({ at: Date.now(), counts: this.snapshot() });
    if (this.samples.length > SAMPLES) this.samples.shift();
  }

  private snapshot(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const t of this.stats()) counts.set(t.topic, t.messages);
    return counts;
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
