import test from "ava";
import { WorkQueue } from "./queue.js";

test("a key is queued once and never processed twice at the same time", async (t) => {
  const queue = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 100 });
  queue.add("a");
  queue.add("a");
  queue.add("b");
  t.is(queue.length, 2);
  const first = await queue.next();
  t.is(first, "a");
  queue.add("a"); // while "a" is being processed
  t.is(await queue.next(), "b");
  t.is(queue.length, 0, "a is not handed out while it is processing");
  queue.done("a");
  t.is(await queue.next(), "a", "a runs again after its processing ends");
  queue.shutdown();
  t.is(await queue.next(), undefined);
});

test("failures back off exponentially up to the cap, and forget resets", (t) => {
  const queue = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
  const delays = [1, 2, 3, 4, 5, 6].map(() => queue.addWithBackoff("k"));
  t.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  queue.forget("k");
  t.is(queue.addWithBackoff("k"), 100);
  queue.shutdown();
});
