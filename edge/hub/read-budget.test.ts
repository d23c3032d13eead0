// A connection's read budget: however it resumes, unsubscribes and resumes again, a
// connection makes the edge read the log no faster than its budget allows; without one, every
// resume beyond the ring cost a page.
import test from "ava";
import { loadConfig } from "../../shared/config.js";
import { EdgeMetrics } from "../common/metrics.js";
import { EmbeddedBackend } from "../backend/embedded/embedded-backend.js";
import { Hub } from "./hub.js";
import { ReadBudget } from "./read-budget.js";
import { Collector, ObservedBackend } from "../../e2e/harness/hub-support.js";

test("resume, unsubscribe, resume again for a second: the log is read within the connection's budget, not once per resume", async (t) => {
  const embedded = new EmbeddedBackend(loadConfig({}), new EdgeMetrics());
  await embedded.start();
  t.teardown(() => embedded.close());
  const backend = new ObservedBackend(embedded);
  const hub = new Hub(backend, new EdgeMetrics(), { cachePerTopic: 0, historyLimit: 100 });
  t.teardown(() => hub.close());
  const data = JSON.stringify("x".repeat(1000));
  const seqs: number[] = [];
  for (let i = 0; i < 300; i++) seqs.push((await embedded.publish({ topic: "amp.t", data })).seq);
  // About one page of 100 messages of 1 KB a second.
  const reads = new ReadBudget(110_000, 110_000);
  const deadline = Date.now() + 1_500;
  let resumes = 0;
  while (Date.now() < deadline) {
    const subscriber = Object.assign(new Collector(), { reads });
    // A different position each time, so that no read is shared with the one before.
    const from = { epoch: embedded.epoch(), seq: seqs[resumes % 150]! };
    const subscription = await Promise.race([
      hub.subscribe("amp.t", subscriber, from),
      new Promise<undefined>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now()))),
    ]);
    subscription?.close();
    resumes++;
  }
  t.true(backend.reads <= 3, `${backend.reads} pages read for ${resumes} resumes in 1.5 s`);
  t.true(resumes >= 1);
});

test("a connection that reads within its budget is not slowed: 20 resumes at once on 20 topics", async (t) => {
  const embedded = new EmbeddedBackend(loadConfig({}), new EdgeMetrics());
  await embedded.start();
  t.teardown(() => embedded.close());
  const hub = new Hub(embedded, new EdgeMetrics(), { cachePerTopic: 0, historyLimit: 100 });
  t.teardown(() => hub.close());
  const positions: number[] = [];
  for (let i = 0; i < 20; i++) {
    positions.push((await embedded.publish({ topic: `many.${i}`, data: '"first"' })).seq);
    for (let n = 0; n < 50; n++) await embedded.publish({ topic: `many.${i}`, data: JSON.stringify(n) });
  }
  // The edge's default: 16 send buffers of 1 MiB a second.
  const reads = new ReadBudget(16 * 1024 * 1024, 32 * 1024 * 1024);
  const started = Date.now();
  const collectors = await Promise.all(
    positions.map(async (seq, i) => {
      const collector = Object.assign(new Collector(), { reads });
      await hub.subscribe(`many.${i}`, collector, { epoch: embedded.epoch(), seq });
      return collector;
    }),
  );
  await Promise.all(
    collectors.map(
      (c) =>
        new Promise<void>((resolve) => {
          const check = () => (c.messages.length === 50 ? resolve() : setTimeout(check, 5));
          check();
        }),
    ),
  );
  t.true(Date.now() - started < 1_000, `took ${Date.now() - started} ms`);
});
