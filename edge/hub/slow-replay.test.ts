// A replay to a reader slower than its topic: it would chase the head forever
// without ever becoming a slow consumer. It must end: as a slow consumer once the topic outruns it,
// and normally (live) when the reader is faster than the topic.
import test from "ava";
import { setTimeout as sleep } from "node:timers/promises";
import { loadConfig } from "../../shared/config.js";
import { EdgeMetrics } from "../common/metrics.js";
import { EmbeddedBackend } from "../backend/embedded/embedded-backend.js";
import { Hub } from "./hub.js";
import { Collector } from "../../e2e/harness/hub-support.js";
import { waitFor } from "../../e2e/harness/wait.js";

/** A reader that takes one message per `msPerMessage`: its socket has room for one at a time. */
class Reader extends Collector {
  outstanding = 0;
  isSlow = false;
  constructor(private readonly msPerMessage: number) {
    super();
  }
  override send(frame: string): void {
    super.send(frame);
    this.outstanding++;
  }
  room(): number {
    return this.outstanding === 0 ? 1_000_000 : 0;
  }
  idle(): boolean {
    return this.outstanding === 0;
  }
  async drained(): Promise<void> {
    await sleep(this.msPerMessage * this.outstanding);
    this.outstanding = 0;
  }
  slow(): void {
    this.isSlow = true;
  }
}

async function race(t: import("ava").ExecutionContext, msPerMessage: number) {
  const embedded = new EmbeddedBackend(loadConfig({}), new EdgeMetrics());
  await embedded.start();
  t.teardown(() => embedded.close());
  const hub = new Hub(embedded, new EdgeMetrics(), {
    cachePerTopic: 0,
    historyLimit: 5,
    replayProgressMs: 300,
  });
  t.teardown(() => hub.close());
  const first = await embedded.publish({ topic: "race.t", data: "0" });
  for (let i = 1; i < 100; i++) await embedded.publish({ topic: "race.t", data: String(i) });
  let publishing = true;
  t.teardown(() => (publishing = false));
  // The topic: about 100 messages a second.
  void (async () => {
    for (let i = 0; publishing; i++) {
      await embedded.publish({ topic: "race.t", data: JSON.stringify(`live-${i}`) });
      await sleep(10);
    }
  })();
  const reader = new Reader(msPerMessage);
  await hub.subscribe("race.t", reader, { epoch: embedded.epoch(), seq: first.seq });
  return { reader, stop: () => (publishing = false) };
}

test("a replay to a reader slower than its topic ends with the reader a slow consumer instead of chasing the head forever", async (t) => {
  const { reader } = await race(t, 40);
  await waitFor("the reader to be found slow", () => reader.isSlow, 5_000);
  t.pass();
});

test("a replay to a reader faster than its topic catches up and goes live, never slow", async (t) => {
  const { reader, stop } = await race(t, 1);
  await sleep(1_500);
  stop();
  t.false(reader.isSlow);
  t.true(reader.messages.some((m) => String(m.data).startsWith("live-")));
});
