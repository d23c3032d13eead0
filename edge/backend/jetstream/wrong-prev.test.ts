// A stored Herald-Prev that skips a message (found by the guarantee checker on R3 streams around a
// leader change: two publishes of a topic both accepted against the same expected last seq): the
// last K messages, found by walking back along Herald-Prev, must not skip the message it skips.
import test from "ava";
import { connect } from "@nats-io/transport-node";
import { headers } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { startNats } from "../../../e2e/harness/nats-server.js";
import { startBackend } from "../../../e2e/harness/jetstream-support.js";
import { loadConfig } from "../../../shared/config.js";
import { storedSubject } from "../../../shared/stream-config.js";
import { PREV_HEADER } from "./codec.js";

test("last:K over a Herald-Prev that skips a message returns every one of the last K, chained", async (t) => {
  const nats = await startNats(t);
  const { backend } = await startBackend(t, nats.url);
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const js = jetstream(nc);
  const subject = storedSubject(loadConfig({}).subjectPrefix, "skip");
  const publish = async (data: string, prev: number) => {
    const h = headers();
    h.set(PREV_HEADER, String(prev));
    return (await js.publish(subject, JSON.stringify(data), { headers: h })).seq;
  };
  const m1 = await publish("m1", 0);
  const m2 = await publish("m2", m1);
  // Stored as if m2 had not been there.
  const m3 = await publish("m3", m1);
  for (const k of [2, 3, 8]) {
    const read = await backend.read("skip", { last: k }, 100);
    const expected =
      k === 2
        ? [
            [m2, m1],
            [m3, m2],
          ]
        : [
            [m1, 0],
            [m2, m1],
            [m3, m2],
          ];
    t.deepEqual(
      read.messages.map((m) => [m.seq, m.prev]),
      expected,
      `last:${k}`,
    );
  }
});
