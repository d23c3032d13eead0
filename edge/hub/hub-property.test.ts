// Random interleavings of publishes, subscribes (live, resume at any position, last K) and
// unsubscribes, over the real embedded log with small rings, small pages and slow reads: every
// subscriber must see subok, then one gap-free, duplicate-free run up to the head.
import test from "ava";
import fc from "fast-check";
import { loadConfig } from "../../shared/config.js";
import { EdgeMetrics } from "../common/metrics.js";
import { EmbeddedBackend } from "../backend/embedded/embedded-backend.js";
import type { From } from "../../protocol/frames.js";
import { Hub, type HubSubscription } from "./hub.js";
import { Collector, ObservedBackend, PacedCollector } from "../../e2e/harness/hub-support.js";
import { sleep, waitFor } from "../../e2e/harness/wait.js";

const SEED = 20261125;

type Step =
  | { op: "publish"; count: number }
  | { op: "live" }
  | { op: "resume"; back: number; foreignEpoch: boolean }
  | { op: "last"; k: number }
  | { op: "unsub"; pick: number }
  | { op: "yield" };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({ op: fc.constant("publish" as const), count: fc.integer({ min: 1, max: 12 }) }),
    weight: 5,
  },
  { arbitrary: fc.record({ op: fc.constant("live" as const) }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant("resume" as const),
      back: fc.integer({ min: 0, max: 40 }),
      foreignEpoch: fc.boolean(),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ op: fc.constant("last" as const), k: fc.integer({ min: 0, max: 30 }) }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant("unsub" as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("yield" as const) }), weight: 1 },
);

interface Tracked {
  collector: Collector;
  from: From | undefined;
  /** Published seqs when the subscribe was called. */
  publishedBefore: number;
  subscription?: HubSubscription;
  closed: boolean;
}

test("random interleavings keep every subscriber's stream exact", async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        cachePerTopic: fc.constantFrom(0, 1, 3, 10),
        historyLimit: fc.constantFrom(1, 2, 5),
        maxMsgsPerTopic: fc.constantFrom(8, 1000),
        liveLag: fc.boolean(),
        /** Subscribers with a send buffer of a few frames that drains later: replays are paced. */
        paced: fc.boolean(),
        steps: fc.array(step, { minLength: 5, maxLength: 40 }),
        /** Percentiles that pick the backend's delays: drawn from the seed, not Math.random. */
        delays: fc.infiniteStream(fc.nat(99)),
      }),
      async ({ cachePerTopic, historyLimit, maxMsgsPerTopic, liveLag, paced, steps, delays }) => {
        const percentile = () => delays.next().value as number;
        const embedded = new EmbeddedBackend(
          loadConfig({ HERALD_MAX_MSGS_PER_TOPIC: String(maxMsgsPerTopic) }),
          new EdgeMetrics(),
        );
        await embedded.start();
        const backend = new ObservedBackend(embedded);
        backend.readDelayMs = () => (percentile() < 50 ? 0 : percentile() % 5);
        if (liveLag) backend.liveDelayMs = () => (percentile() < 70 ? 0 : percentile() % 3);
        const hub = new Hub(backend, new EdgeMetrics(), { cachePerTopic, historyLimit });
        try {
          const topic = "prop.topic";
          const published: number[] = [];
          const tracked: Tracked[] = [];
          const subscribes: Promise<void>[] = [];
          const subscribe = (from: From | undefined) => {
            const entry: Tracked = {
              collector: paced ? new PacedCollector(200) : new Collector(),
              from,
              publishedBefore: published.length,
              closed: false,
            };
            tracked.push(entry);
            subscribes.push(
              hub.subscribe(topic, entry.collector, from).then((subscription) => {
                entry.subscription = subscription;
                if (entry.closed) subscription.close();
              }),
            );
          };
          for (const s of steps) {
            switch (s.op) {
              case "publish":
                for (let i = 0; i < s.count; i++)
                  published.push((await embedded.publish({ topic, data: String(published.length) })).seq);
                break;
              case "live":
                subscribe(undefined);
                break;
              case "resume": {
                const seq = published[published.length - 1 - s.back] ?? 0;
                subscribe({ epoch: s.foreignEpoch ? "another-epoch" : embedded.epoch(), seq });
                break;
              }
              case "last":
                subscribe({ last: s.k });
                break;
              case "unsub": {
                const open = tracked.filter((e) => !e.closed);
                const victim = open[s.pick % Math.max(1, open.length)];
                if (victim) {
                  victim.closed = true;
                  victim.subscription?.close();
                }
                break;
              }
              case "yield":
                await sleep(1);
                break;
            }
          }
          await Promise.all(subscribes);
          const head = published.at(-1) ?? 0;
          await waitFor(
            "open subscribers at the head",
            () =>
              tracked.every(
                (e) =>
                  e.closed ||
                  e.collector.lastSeq === head ||
                  (e.collector.frames.at(-1)?.op === "subok" && e.collector.suboks.at(-1)?.seq === head),
              ),
            5_000,
          ).catch((error: unknown) => {
            throw new Error(
              `${String(error)}: head ${head}, ${JSON.stringify(tracked.filter((e) => !e.closed).map((e) => [e.from, e.collector.frames.map((f) => (f.op === "msg" ? `${f.prev}>${f.seq}` : JSON.stringify(f)))]))}`,
            );
          });
          for (const e of tracked) {
            const [subok, ...rest] = e.collector.frames;
            if (subok?.op !== "subok") {
              if (e.closed) continue;
              throw new Error(`first frame is not subok: ${JSON.stringify(subok)}`);
            }
            // A later subok may only announce a restart (recovered:false: retention overtook a slow
            // replay); within each run the prev chain is unbroken, and seqs only ever grow.
            let prev = subok.seq;
            let lastSubok = subok;
            for (const frame of rest) {
              if (frame.op === "subok" && !frame.recovered && frame.seq >= prev) lastSubok = frame;
              else if (frame.op !== "msg" || frame.prev !== prev)
                throw new Error(
                  `broken stream for ${JSON.stringify(e.from)}: ${JSON.stringify(e.collector.frames)}`,
                );
              prev = frame.seq;
            }
            if (lastSubok !== subok && maxMsgsPerTopic === 1000)
              throw new Error("a restart without any retention loss");
            const got = e.collector.frames
              .slice(e.collector.frames.indexOf(lastSubok) + 1)
              .map((f) => (f.op === "msg" ? f.seq : -1));
            const expected = published.filter((seq) => seq > lastSubok.seq);
            if (!e.closed && JSON.stringify(got) !== JSON.stringify(expected))
              throw new Error(`wrong messages for ${JSON.stringify(e.from)}`);
            const from = e.from;
            if (from && "epoch" in from) {
              if (subok.recovered && subok.seq !== from.seq)
                throw new Error("recovered:true must continue at the asked position");
              if (from.epoch !== embedded.epoch() && subok.recovered)
                throw new Error("a foreign epoch cannot be recovered");
              // Without retention losses every real position of this epoch is recoverable.
              if (maxMsgsPerTopic === 1000 && from.epoch === embedded.epoch() && !subok.recovered)
                throw new Error(`position ${from.seq} not recovered`);
            }
            if (from && "last" in from) {
              if (!subok.recovered) throw new Error("last:K is always honoured");
              // The head only grows while the subscribe is handled: never more than K before it
              // (when the feed lags the log, K counts back from the edge's older head).
              const startIndex = subok.seq === 0 ? 0 : published.indexOf(subok.seq) + 1;
              if (!liveLag && startIndex < e.publishedBefore - from.last)
                throw new Error(`last:${from.last} started too early`);
            }
          }
        } catch (error) {
          // fast-check reports the failing input; this says what went wrong with it.
          t.log(String(error).slice(0, 3000));
          throw error;
        } finally {
          hub.close();
          await embedded.close();
        }
      },
    ),
    // A fixed seed: runs are reproducible, and a failure's counterexample comes back with the same seed.
    { seed: SEED, numRuns: 60, endOnFailure: true, verbose: 1 },
  );
  t.pass();
});
