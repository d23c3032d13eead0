// What a run does, drawn by fast-check from one seed: the configuration (retention, ring size,
// page size, send buffer) and a list of steps. The same seed gives the same scenario, so any run
// is reproduced from its printed seed (`npm run soak -- --seed S --backend B --runs 1`).
import fc from "fast-check";
import { FAULTS, type BackendName, type Fault } from "./world.js";

export interface Profile {
  /** "steady" (long retention) or "retention" (max_age of seconds, few messages per topic). */
  readonly name: "steady" | "retention";
  readonly maxAgeSeconds: number;
  readonly maxMsgsPerTopic: number;
  readonly dupWindowSeconds: number;
  readonly cachePerTopic: number;
  readonly historyLimit: number;
  readonly sendBufferBytes: number;
}

export type PayloadKind = "ascii" | "latin" | "cjk" | "emoji" | "mixed";
export type PayloadSize = "tiny" | "small" | "medium" | "max";
export interface PayloadSpec {
  readonly kind: PayloadKind;
  readonly size: PayloadSize;
  readonly seed: number;
}
/** fresh: a msgId of its own (retried under it); none; or one used before on this / another topic. */
export type MsgIdSpec = "fresh" | "none" | "sameTopic" | "otherTopic";
export type FromSpec =
  | { readonly kind: "live" }
  | { readonly kind: "last"; readonly k: number }
  /** A position near the head of the current epoch (pick 0 = the head itself). */
  | { readonly kind: "valid"; readonly pick: number }
  /** The topic's oldest known position: removed by retention in the "retention" profile. */
  | { readonly kind: "aged" }
  /** Beyond anything stored. */
  | { readonly kind: "future" }
  /** An epoch that is not the log's (an older one when the log was re-created). */
  | { readonly kind: "foreign" };

export type Step =
  | { op: "publish"; topic: number; via: "http" | "ws" | "sdk"; payload: PayloadSpec; msgId: MsgIdSpec }
  /** One POST with several messages; `spread`: over consecutive topics. */
  | { op: "batch"; topic: number; count: number; payload: PayloadSpec; spread: boolean }
  /** Several publishes to one topic at once. */
  | { op: "burst"; topic: number; count: number; payload: PayloadSpec }
  | { op: "sub"; who: number; topic: number; from: FromSpec; slowMs: number }
  /** Every topic on one connection. */
  | { op: "subMany"; who: number; last: number }
  | { op: "unsub"; who: number; topic: number }
  | { op: "resub"; who: number; topic: number }
  | { op: "reconnect"; who: number }
  | { op: "slow"; who: number; ms: number }
  | { op: "wait"; ms: number }
  /** GET /v1/topics/:topic/messages?after=N&limit=L from one edge (N from `from`; live/last: 0). */
  | { op: "history"; topic: number; from: FromSpec; limit: number; edge: number }
  /** Wait past max_age. */
  | { op: "age" }
  /** Away from a topic while its messages age out, a new one comes, then resume. */
  | { op: "gap"; who: number; topic: number; count: number }
  | { op: "fault"; fault: Fault; delayMs: number };

export interface Scenario {
  readonly seed: number;
  readonly backend: BackendName;
  readonly profile: Profile;
  readonly topics: number;
  /** Raw herald.v1 subscribers (who < raw), then SDK clients. */
  readonly raw: number;
  readonly sdk: number;
  readonly steps: Step[];
}

export interface ScenarioSize {
  readonly steps: number;
  /** Faults among the steps, about. */
  readonly faults: number;
}

function profileArb(backend: BackendName): fc.Arbitrary<Profile> {
  // JetStream needs duplicate_window <= max_age; its expiry timer and the recorder need a few
  // seconds. A replicated stream decides duplicates when each replica applies a message, by its
  // own clock: a replica that catches up after a restart later than the window decides otherwise
  // and the replicas' seqs part (docs/design.md#why-slots-and-claims-on-replicated-streams), so
  // its window must outlast a node's restart.
  const shortAge = backend === "embedded" ? 2 : backend === "jetstream" ? 3 : 10;
  return fc
    .record({
      name: fc.constantFrom("steady" as const, "retention" as const),
      cachePerTopic: fc.constantFrom(0, 3, 1000),
      historyLimit: fc.constantFrom(2, 7, 1000),
      sendBufferBytes: fc.constantFrom(256 * 1024, 1024 * 1024),
    })
    .map(({ name, ...knobs }) => ({
      name,
      maxAgeSeconds: name === "retention" ? shortAge : 86_400,
      maxMsgsPerTopic: name === "retention" ? 8 : 1000,
      dupWindowSeconds: name === "retention" ? shortAge : 120,
      ...knobs,
    }));
}

const payloadArb: fc.Arbitrary<PayloadSpec> = fc.record({
  kind: fc.constantFrom<PayloadKind>("ascii", "latin", "cjk", "emoji", "mixed"),
  size: fc.oneof(
    { arbitrary: fc.constant<PayloadSize>("tiny"), weight: 4 },
    { arbitrary: fc.constant<PayloadSize>("small"), weight: 4 },
    { arbitrary: fc.constant<PayloadSize>("medium"), weight: 2 },
    { arbitrary: fc.constant<PayloadSize>("max"), weight: 1 },
  ),
  seed: fc.nat(),
});

/** Bursts of large messages (what fills a send buffer during replays). */
const bigPayloadArb: fc.Arbitrary<PayloadSpec> = fc.record({
  kind: fc.constantFrom<PayloadKind>("ascii", "cjk", "emoji", "mixed"),
  size: fc.constantFrom<PayloadSize>("medium", "max"),
  seed: fc.nat(),
});

const fromArb: fc.Arbitrary<FromSpec> = fc.oneof(
  { arbitrary: fc.constant({ kind: "live" as const }), weight: 3 },
  {
    arbitrary: fc.record({ kind: fc.constant("last" as const), k: fc.integer({ min: 0, max: 25 }) }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant("valid" as const), pick: fc.nat(8) }), weight: 4 },
  { arbitrary: fc.constant({ kind: "aged" as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: "future" as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: "foreign" as const }), weight: 1 },
);

function faultArb(backend: BackendName): fc.Arbitrary<Fault> {
  return fc.constantFrom(...FAULTS[backend]).chain((kind): fc.Arbitrary<Fault> => {
    switch (kind) {
      case "cut":
        return fc.record({
          kind: fc.constant("cut" as const),
          slot: fc.nat(1),
          ms: fc.integer({ min: 300, max: 3000 }),
        });
      case "leaderKill":
        return fc.record({
          kind: fc.constant("leaderKill" as const),
          ms: fc.integer({ min: 500, max: 4000 }),
        });
      case "edgeKill":
      case "drain":
        return fc.record({ kind: fc.constant(kind), slot: fc.nat(1) });
      default:
        return fc.constant({ kind } as Fault);
    }
  });
}

function stepArb(
  backend: BackendName,
  profile: Profile,
  topics: number,
  who: number,
  faultWeight: number,
): fc.Arbitrary<Step> {
  const topic = fc.nat(topics - 1);
  const person = fc.nat(who - 1);
  const retention = profile.name === "retention";
  const steps: fc.WeightedArbitrary<Step>[] = [
    {
      arbitrary: fc.record({
        op: fc.constant("publish" as const),
        topic,
        via: fc.constantFrom("http" as const, "http" as const, "ws" as const, "sdk" as const),
        payload: payloadArb,
        msgId: fc.constantFrom<MsgIdSpec>("fresh", "fresh", "fresh", "none", "sameTopic", "otherTopic"),
      }),
      weight: 30,
    },
    {
      arbitrary: fc.record({
        op: fc.constant("batch" as const),
        topic,
        count: fc.integer({ min: 2, max: 6 }),
        payload: payloadArb,
        spread: fc.boolean(),
      }),
      weight: 5,
    },
    {
      arbitrary: fc.record({
        op: fc.constant("burst" as const),
        topic,
        count: fc.integer({ min: 4, max: 16 }),
        payload: fc.oneof(payloadArb, bigPayloadArb),
      }),
      weight: 5,
    },
    {
      arbitrary: fc.record({
        op: fc.constant("sub" as const),
        who: person,
        topic,
        from: fromArb,
        slowMs: fc.constantFrom(0, 0, 0, 15),
      }),
      weight: 14,
    },
    {
      arbitrary: fc.record({
        op: fc.constant("subMany" as const),
        who: person,
        last: fc.integer({ min: 0, max: 12 }),
      }),
      weight: 2,
    },
    { arbitrary: fc.record({ op: fc.constant("unsub" as const), who: person, topic }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant("resub" as const), who: person, topic }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant("reconnect" as const), who: person }), weight: 4 },
    {
      arbitrary: fc.record({
        op: fc.constant("slow" as const),
        who: person,
        ms: fc.integer({ min: 100, max: 1500 }),
      }),
      weight: 3,
    },
    {
      arbitrary: fc.record({ op: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 400 }) }),
      weight: 5,
    },
    {
      arbitrary: fc.record({
        op: fc.constant("history" as const),
        topic,
        from: fromArb,
        limit: fc.constantFrom(1, 5, 1000),
        edge: fc.nat(1),
      }),
      weight: 3,
    },
  ];
  if (retention) {
    steps.push({ arbitrary: fc.constant({ op: "age" as const }), weight: 1 });
    steps.push({
      arbitrary: fc.record({
        op: fc.constant("gap" as const),
        who: person,
        topic,
        count: fc.integer({ min: 0, max: 2 }),
      }),
      weight: 2,
    });
  }
  if (faultWeight > 0) {
    steps.push({
      arbitrary: fc.record({
        op: fc.constant("fault" as const),
        fault: faultArb(backend),
        delayMs: fc.integer({ min: 0, max: 300 }),
      }),
      weight: faultWeight,
    });
  }
  return fc.oneof(...steps);
}

/** The scenario of `seed` for `backend`: the same every time. */
export function scenarioFor(seed: number, backend: BackendName, size: ScenarioSize): Scenario {
  const topics = 8;
  const raw = 3;
  const sdk = 2;
  const arb = profileArb(backend).chain((profile) => {
    // Faults per step, so that about `size.faults` of `size.steps` are faults (weights sum to ~76).
    const faultWeight =
      size.faults === 0
        ? 0
        : Math.max(1, Math.round((76 * size.faults) / Math.max(1, size.steps - size.faults)));
    return fc
      .array(stepArb(backend, profile, topics, raw + sdk, faultWeight), {
        minLength: size.steps,
        maxLength: size.steps,
      })
      .map((steps) => ({ seed, backend, profile, topics, raw, sdk, steps }));
  });
  // Unbiased: fast-check draws its first values close to the bounds (small sizes, first choices).
  return fc.sample(fc.noBias(arb), { seed, numRuns: 1 })[0]!;
}

// ---- payloads ----

const ALPHABETS: Record<PayloadKind, string[]> = {
  ascii: [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,:;!?"],
  latin: [..."éèàüöäßñçøåœÉÀÜÖÄŁżść"],
  cjk: [..."中文字符日本語漢字한국어消息順序保証"],
  emoji: [..."😀🎉🚀🌍🔥💡🎵🐙🧪✅"],
  mixed: [..."aZ9 éß中語한😀🚀✅-"],
};

/** A deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The data of one publish: `{"k": tag, "p": text}` whose JSON takes about the spec's size in
 * UTF-8 bytes; "max" fills `maxBytes` (the frame limit, less what the frame around it needs).
 */
export function payloadFor(tag: string, spec: PayloadSpec, maxBytes: number): { k: string; p: string } {
  const next = random(spec.seed);
  const overhead = Buffer.byteLength(JSON.stringify({ k: tag, p: "" }));
  const target =
    spec.size === "tiny"
      ? 1 + Math.floor(next() * 20)
      : spec.size === "small"
        ? 20 + Math.floor(next() * 500)
        : spec.size === "medium"
          ? 500 + Math.floor(next() * 8000)
          : maxBytes - Math.floor(next() * 64);
  const budget = Math.max(0, Math.min(target, maxBytes) - overhead);
  const alphabet = ALPHABETS[spec.kind];
  const parts: string[] = [];
  let bytes = 0;
  for (;;) {
    const char = alphabet[Math.floor(next() * alphabet.length)]!;
    const size = Buffer.byteLength(char);
    if (bytes + size > budget) break;
    parts.push(char);
    bytes += size;
  }
  return { k: tag, p: parts.join("") };
}
