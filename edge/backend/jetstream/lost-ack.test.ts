// A publish whose outcome the writer cannot know (stream-writer.ts "Unknown outcomes"), on a real
// nats-server: a named stand-in around the JetStream client loses the answer of one chosen publish
// (a timeout), after sending it to the server or instead of sending it. The writer must find out
// from the stream which it was before publishing anything else of the topic: stored once, with
// the seq it really got, and a prev chain that skips nothing.
import test from "ava";
import { connect } from "@nats-io/transport-node";
import { errors } from "@nats-io/nats-core";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import { startNats } from "../../../e2e/harness/nats-server.js";
import { chainProblem, startBackend } from "../../../e2e/harness/jetstream-support.js";
import { loadConfig } from "../../../shared/config.js";
import { storedSubject } from "../../../shared/stream-config.js";
import { StreamWriter } from "./stream-writer.js";
import { readTail } from "./stream-tail.js";

const COUNT = 40;
const LOST = "m-17";

/** Stand-in: the JetStream client, except that the answer to the publish of `lost` never arrives. */
function losingAnswerOf(js: JetStreamClient, lost: string, sendIt: boolean): JetStreamClient {
  let done = false;
  return new Proxy(js, {
    get(target, key) {
      if (key !== "publish") return Reflect.get(target, key) as unknown;
      return async (...args: Parameters<JetStreamClient["publish"]>) => {
        if (done || new TextDecoder().decode(args[1] as Uint8Array) !== lost) return target.publish(...args);
        done = true;
        if (sendIt) await target.publish(...args);
        throw new errors.TimeoutError();
      };
    },
  });
}

for (const sendIt of [true, false]) {
  test(`a pipelined publish whose answer is lost (${sendIt ? "stored" : "never sent"}): settled from the stream, stored once, chain unbroken`, async (t) => {
    const nats = await startNats(t);
    const config = loadConfig({ HERALD_NATS_URL: nats.url });
    const { backend } = await startBackend(t, nats.url);
    const nc = await connect({ servers: nats.url });
    t.teardown(() => nc.close());
    const js = losingAnswerOf(jetstream(nc), LOST, sendIt);
    const jsm = await jetstreamManager(nc);
    const subject = (topic: string) => storedSubject(config.subjectPrefix, topic);
    const writer = new StreamWriter(
      () => js,
      config.subjectPrefix,
      async () => 0,
      (topic, floor) => readTail(jsm, config.stream, subject(topic), floor),
      async () => undefined,
    );
    const outcomes = await Promise.all(
      Array.from({ length: COUNT }, (_, i) =>
        writer.publish({ topic: "lost", data: `m-${i}`, msgId: `id-${i}` }),
      ),
    );
    const read = await backend.read("lost", { after: 0 }, 1000);
    t.is(chainProblem(read.messages, 0), undefined);
    t.deepEqual(
      read.messages.map((m) => m.data).sort(),
      Array.from({ length: COUNT }, (_, i) => `m-${i}`).sort(),
    );
    // Every caller got the seq its message is stored at, none a duplicate.
    t.deepEqual(
      outcomes.map((o) => [o.seq, o.dup]),
      Array.from({ length: COUNT }, (_, i) => [read.messages.find((m) => m.data === `m-${i}`)!.seq, false]),
    );
  });
}
