// What nats-server lets through when two connections publish to one subject of a stream at the
// same instant, each with the same expectation: the check Herald's chain once relied on
// (Nats-Expected-Last-Subject-Sequence), the stream-wide one (Nats-Expected-Last-Sequence), and
// Nats-Msg-Id (the slots of docs/design.md#why-slots-and-claims-on-replicated-streams). On one
// node and on a 3-node cluster. A pair counts as "both stored" when neither was refused nor
// answered as a duplicate.
//
//   npm run bench:expected-checks [-- --pairs N]
import { parseArgs } from "node:util";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamPublishOptions } from "@nats-io/jetstream";
import { startNats, startNatsCluster } from "../e2e/harness/nats-server.js";
import { Cleanup } from "./cleanup.js";
import { machine, printTable, writeResults, type Row } from "./lib/report.js";

const { values } = parseArgs({ options: { pairs: { type: "string" } } });
const PAIRS = Number(values.pairs ?? 200);

type Expectation = (i: number, head: { subject: number; stream: number }) => Partial<JetStreamPublishOptions>;

const CHECKS: [name: string, expect: Expectation][] = [
  ["Nats-Expected-Last-Subject-Sequence", (_, head) => ({ expect: { lastSubjectSequence: head.subject } })],
  ["Nats-Expected-Last-Sequence", (_, head) => ({ expect: { lastSequence: head.stream } })],
  ["Nats-Msg-Id (the same in a pair)", (i) => ({ msgID: `pair-${i}` })],
];

async function measure(urls: [string, string], replicas: number): Promise<Row[]> {
  const [a, b] = (await Promise.all(urls.map((servers) => connect({ servers })))) as [
    NatsConnection,
    NatsConnection,
  ];
  try {
    const jsm = await jetstreamManager(a);
    await jsm.streams.add({ name: "CHECKS", subjects: ["checks.>"], num_replicas: replicas });
    const clients = [jetstream(a), jetstream(b)];
    const rows: Row[] = [];
    for (const [index, [name, expect]] of CHECKS.entries()) {
      const subject = `checks.${index}`;
      let both = 0;
      for (let i = 0; i < PAIRS; i++) {
        const state = (await jsm.streams.info("CHECKS")).state;
        const last = await jsm.streams.getMessage("CHECKS", { last_by_subj: subject });
        const head = { subject: last?.seq ?? 0, stream: state.last_seq };
        const answers = await Promise.allSettled(
          clients.map((js, k) => js.publish(subject, `${k}`, expect(i, head))),
        );
        if (answers.every((r) => r.status === "fulfilled" && !r.value.duplicate)) both++;
      }
      rows.push({ servers: replicas, check: name, pairs: PAIRS, "both stored": both });
    }
    return rows;
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

const cleanup = new Cleanup();
try {
  const single = await startNats(cleanup);
  const cluster = await startNatsCluster(cleanup, 3);
  const rows = [
    ...(await measure([single.url, single.url], 1)),
    ...(await measure([cluster.urls[0]!, cluster.urls[1]!], 3)),
  ];
  printTable("two publishes of one subject at once, with the same expectation", rows);
  console.log(`written to ${writeResults("expected-checks", { machine: machine(), rows })}`);
} finally {
  await cleanup.run();
}
