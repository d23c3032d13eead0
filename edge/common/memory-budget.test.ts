// The edge's memory budget on its own: what fits is taken, what does not is refused or evicted
// (largest cache first), a message held by several queues is counted once, and every byte taken is
// given back when the last holder lets go.
import test from "ava";
import {
  BudgetedQueue,
  evictOldest,
  HeldItems,
  MemoryBudget,
  SharedHold,
  type Evictable,
} from "./memory-budget.js";

interface Item {
  readonly seq: number;
  readonly size: number;
}
const item = (seq: number, size = 100): Item => ({ seq, size });
const held = (budget: MemoryBudget) => new HeldItems<Item>(budget, (i) => i.size);

/** A cache of `bytes` in chunks of `chunk` that gives them back when evicted. */
function cache(budget: MemoryBudget, bytes: number, chunk = 100): Evictable & { held: number } {
  budget.take("ring", bytes);
  const self = {
    held: bytes,
    evictableBytes: () => self.held,
    evict(wanted: number) {
      let freed = 0;
      while (self.held > 0 && freed < wanted) {
        const n = Math.min(chunk, self.held);
        self.held -= n;
        freed += n;
        budget.give("ring", n);
      }
    },
  };
  budget.register(self);
  return self;
}

test("what fits is taken, what does not is refused; give hands it back", (t) => {
  const budget = new MemoryBudget(1000);
  t.true(budget.tryTake("held", 600));
  t.false(budget.tryTake("held", 500), "nothing to evict: refused");
  t.is(budget.used, 600);
  t.true(budget.tryTake("history", 400));
  t.is(budget.usedBy("history"), 400);
  budget.give("held", 600);
  t.is(budget.used, 400);
  t.is(budget.usedBy("held"), 0);
});

test("under pressure the largest cache gives up its bytes first, a little beyond what is needed", (t) => {
  const evicted: number[] = [];
  const budget = new MemoryBudget(64_000, { evicted: (bytes) => evicted.push(bytes) });
  const small = cache(budget, 10_000);
  const large = cache(budget, 50_000);
  t.true(budget.tryTake("replay", 10_000), "made room by evicting");
  t.is(small.held, 10_000, "the small cache is untouched");
  t.true(large.held <= 50_000 - 6_000 - 1_000, "the large one gave the deficit and a 64th of the budget");
  t.true(budget.used <= budget.limit);
  t.is(
    evicted.reduce((a, b) => a + b, 0),
    50_000 - large.held,
  );
  t.is(budget.evictedBytes, 50_000 - large.held);
});

test("take() never refuses, and room() waits until something is given back", async (t) => {
  const budget = new MemoryBudget(1000);
  budget.take("replay", 1500);
  t.is(budget.used, 1500);
  let waited = false;
  const room = budget.room().then(() => (waited = true));
  await Promise.resolve();
  t.false(waited);
  budget.give("replay", 600);
  await room;
  t.true(waited);
});

test("a shared hold counts its bytes once while any user holds it", (t) => {
  const budget = new MemoryBudget(10_000);
  const page = new SharedHold(budget, "replay", 3000);
  const first = page.acquire();
  const second = page.acquire();
  t.is(budget.usedBy("replay"), 3000);
  first();
  first();
  t.is(budget.usedBy("replay"), 3000, "a release counts once");
  second();
  t.is(budget.usedBy("replay"), 0);
  const again = page.acquire();
  t.is(budget.usedBy("replay"), 3000);
  again();
  t.is(budget.usedBy("replay"), 0);
  const hold = budget.hold("held", 500);
  hold.release();
  hold.release();
  t.is(budget.used, 0);
});

test("an item in a ring and in hand-over buffers is counted once, under ring while a ring holds it", (t) => {
  const budget = new MemoryBudget(10_000);
  const items = held(budget);
  const ring = new BudgetedQueue(items, "ring");
  const buffers = [new BudgetedQueue(items, "handover"), new BudgetedQueue(items, "handover")];
  const shared = item(1, 1000);
  t.true(ring.push(shared));
  for (const buffer of buffers) t.true(buffer.push(shared));
  t.is(budget.used, 1000);
  t.is(budget.usedBy("ring"), 1000);
  ring.shift();
  t.is(budget.usedBy("ring"), 0);
  t.is(budget.usedBy("handover"), 1000, "only the buffers hold it now");
  buffers[0]!.clear();
  t.is(budget.used, 1000);
  buffers[1]!.shift();
  t.is(budget.used, 0, "the last holder gave it back");
});

test("a budgeted queue refuses what does not fit, and prepend takes the newest that fit", (t) => {
  const budget = new MemoryBudget(1000);
  const items = held(budget);
  const ring = new BudgetedQueue(items, "ring");
  t.true(ring.push(item(10, 600)));
  t.false(ring.push(item(11, 600)), "over the budget with nothing else to evict");
  t.is(ring.length, 1);
  const other = new BudgetedQueue(items, "ring");
  t.is(other.prepend([item(1, 200), item(2, 200), item(3, 200)]), 2);
  t.deepEqual(
    other.slice(0).map((i) => i.seq),
    [2, 3],
  );
  other.retain((i) => i.seq === 3);
  ring.clear();
  t.is(budget.used, 200);
  t.is(ring.heldBytes, 0);
  t.is(other.heldBytes, 200);
});

test("evictOldest drops a seq from every queue of a topic together until the bytes are freed", (t) => {
  const budget = new MemoryBudget(100_000);
  const items = held(budget);
  const ring = new BudgetedQueue(items, "ring");
  const buffer = new BudgetedQueue(items, "handover");
  const messages = Array.from({ length: 10 }, (_, i) => item(i + 1, 100));
  for (const m of messages) ring.push(m);
  for (const m of messages.slice(5)) buffer.push(m);
  evictOldest(budget, [ring, buffer], 650);
  t.is(budget.used, 300, "seqs 1-7 gone from both");
  t.deepEqual(
    ring.slice(0).map((m) => m.seq),
    [8, 9, 10],
  );
  t.deepEqual(
    buffer.slice(0).map((m) => m.seq),
    [8, 9, 10],
  );
});

test("older items are prepended only in what the budget has spare: never at the expense of the queue's own", (t) => {
  const budget = new MemoryBudget(1000);
  const items = held(budget);
  const ring = new BudgetedQueue(items, "ring");
  budget.register({
    evictableBytes: () => ring.heldBytes,
    evict: (bytes) => evictOldest(budget, [ring], bytes),
  });
  for (const seq of [5, 6, 7]) ring.push(item(seq, 300));
  t.is(ring.prepend([item(2, 50), item(3, 50), item(4, 50)]), 2, "100 bytes spare: the newest two");
  t.deepEqual(
    ring.slice(0).map((i) => i.seq),
    [3, 4, 5, 6, 7],
  );
  t.is(budget.used, 1000);
});
