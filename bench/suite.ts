// The benchmark suite: Herald (embedded and JetStream R1) beside a plain `ws` broadcast server,
// socket.io 4 and nats-server's WebSocket listener, in one run, with the same load processes,
// payloads and subscribers. Loopback only; every process it starts is killed by pid when it ends;
// the whole run is bounded in time. Prints tables and writes JSON under bench/results/.
//
//   npm run bench                          quick mode (a few minutes, scaled-down loads)
//   npm run bench:full                     full loads (10,000 subscribers, 15,000 topics, ...)
//   node --import tsx bench/suite.ts [--quick] [--only fanout,own-topic,many-topics,publish,scale,storm]
//        [--targets ws,socketio,nats,herald-embedded,herald-jetstream] [--subscribers N]
//        [--seconds S] [--profile DIR] [--storm-rate MSGS_PER_SECOND]
//        [--scale-edges N] [--scale-rate MSGS_PER_SECOND] [--storm-edges N] [--storm-subscribers N]
import { parseArgs } from "node:util";
import { boundRun } from "./lib/children.js";
import { machine, printTable, writeResults, type Row } from "./lib/report.js";
import { ALL_TARGETS, type TargetName } from "./lib/targets.js";
import { fanout } from "./scenarios/fanout.js";
import { publish } from "./scenarios/publish.js";
import { scale } from "./scenarios/scale.js";
import { storm } from "./scenarios/storm.js";
import { manyTopics, ownTopic } from "./scenarios/topics.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    targets: { type: "string" },
    subscribers: { type: "string" },
    seconds: { type: "string" },
    profile: { type: "string" },
    "storm-rate": { type: "string" },
    "scale-edges": { type: "string" },
    "scale-rate": { type: "string" },
    "storm-edges": { type: "string" },
    "storm-subscribers": { type: "string" },
  },
});

const SCENARIOS = ["fanout", "own-topic", "many-topics", "publish", "scale", "storm"] as const;
type Scenario = (typeof SCENARIOS)[number];

const quick = args.quick;
const only = (args.only?.split(",") ?? [...SCENARIOS]) as Scenario[];
for (const s of only)
  if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}: ${SCENARIOS.join(", ")}`);
const targets = (args.targets?.split(",") ?? ALL_TARGETS) as TargetName[];
for (const t of targets)
  if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target ${t}: ${ALL_TARGETS.join(", ")}`);
const seconds = Number(args.seconds ?? (quick ? 4 : 10));
const subscribers = Number(args.subscribers ?? (quick ? 2_000 : 10_000));
const target = args.profile ? { profileDir: args.profile } : {};

boundRun((quick ? 15 : 45) * 60_000);

async function main(): Promise<void> {
  const started = new Date().toISOString();
  console.log(`benchmark run ${started} (${quick ? "quick" : "full"}), machine ${JSON.stringify(machine())}`);
  const results: Partial<Record<Scenario, Row[]>> = {};
  const show = (scenario: Scenario, title: string, rows: Row[]) => {
    results[scenario] = rows;
    printTable(title, rows);
  };
  if (only.includes("fanout")) {
    const rows = await fanout({
      targets,
      subscribers,
      perWorker: Math.ceil(subscribers / 2),
      lowRate: 2,
      seconds,
      lag: 10,
      target,
    });
    show(
      "fanout",
      `one topic x ${subscribers} subscribers, 100-byte messages (latency at 2 msg/s; max sustained, closed loop)`,
      rows,
    );
  }
  const topicOptions = {
    targets,
    ownTopic: quick ? 2_000 : 15_000,
    topics: quick ? 10 : 100,
    perTopic: 150,
    perWorker: 5_000,
    seconds,
    lag: 4,
    target,
  };
  if (only.includes("own-topic"))
    show(
      "own-topic",
      `${topicOptions.ownTopic} connections, each on its own topic at 1 msg/s`,
      await ownTopic(topicOptions),
    );
  if (only.includes("many-topics"))
    show(
      "many-topics",
      `${topicOptions.topics} topics x ${topicOptions.perTopic} subscribers at the saturating rate (closed loop)`,
      await manyTopics(topicOptions),
    );
  if (only.includes("publish")) {
    const rows = await publish({
      messages: quick ? 2_000 : 20_000,
      window: 256,
      batch: 100,
      httpInFlight: 8,
      backends: targets.includes("herald-embedded") ? ["embedded", "jetstream"] : ["jetstream"],
      target,
    });
    show(
      "publish",
      "publish throughput into one topic through one edge vs raw nats.js into the same stream",
      rows,
    );
  }
  if (only.includes("scale")) {
    const topics = quick ? 20 : 600;
    const options = {
      edges: Number(args["scale-edges"] ?? (quick ? 2 : 4)),
      perEdge: quick ? 1_000 : 15_000,
      topics,
      rate: Number(args["scale-rate"] ?? topics),
      seconds,
    };
    show(
      "scale",
      `${options.edges} JetStream edges x ${options.perEdge} connections on ${options.topics} topics, ${options.rate} msg/s over them`,
      await scale(options),
    );
  }
  if (only.includes("storm")) {
    // The load: 100,000 subscribers on 1,000 topics; 7 edges, so that the six left after the
    // kill hold them all (19,500 connections each at most). Scaled by --storm-subscribers, 100 per topic.
    const stormSubscribers = Number(args["storm-subscribers"] ?? (quick ? 600 : 100_000));
    const options = {
      edges: Number(args["storm-edges"] ?? (quick ? 3 : 7)),
      subscribers: stormSubscribers,
      topics: quick ? 12 : Math.ceil(stormSubscribers / 100),
      perWorker: quick ? 300 : 5_000,
      seconds: Math.max(seconds, 6),
      rate: Number(args["storm-rate"] ?? (quick ? 12 : 200)),
    };
    show(
      "storm",
      `reconnect storm: ${options.edges} JetStream edges behind the TCP balancer, ${options.subscribers} subscribers on ${options.topics} topics, ${options.rate} msg/s, one edge SIGKILLed while publishing`,
      await storm(options),
    );
  }
  const file = writeResults(quick ? "suite-quick" : "suite", {
    started,
    finished: new Date().toISOString(),
    mode: quick ? "quick" : "full",
    machine: machine(),
    options: { seconds, subscribers, targets, only },
    results,
  });
  console.log(`\nwritten to ${file}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
