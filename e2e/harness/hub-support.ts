// Test support for the hub: a Subscriber that records the frames it is sent, the checks a client
// would make on them (subok first, then one unbroken prev chain), and a wrapper around a real
// backend that counts reads and open feeds and can hold reads back.
import type { ExecutionContext } from "ava";
import { decodeEdgeFrames } from "../../protocol/edge-frames.js";
import type { EdgeFrame, MsgFrame, SubOkFrame } from "../../protocol/frames.js";
import type {
  Backend,
  LiveFeed,
  LiveHandlers,
  PublishInput,
  ReadFrom,
  ReadResult,
  StoredMessage,
} from "../../edge/backend/backend.js";
import type { Subscriber } from "../../edge/hub/hub.js";
import { sleep } from "./wait.js";

export class Collector implements Subscriber {
  readonly frames: EdgeFrame[] = [];

  send(frame: string): void {
    // The hub hands over exactly one frame per call; batching is the session's job.
    const frames = decodeEdgeFrames(frame);
    if (frames.length !== 1 || frame.includes("\n")) throw new Error(`expected one frame, got ${frame}`);
    this.frames.push(frames[0]!);
  }

  get messages(): MsgFrame[] {
    return this.frames.filter((f): f is MsgFrame => f.op === "msg");
  }

  get suboks(): SubOkFrame[] {
    return this.frames.filter((f): f is SubOkFrame => f.op === "subok");
  }

  get lastSeq(): number {
    return this.messages.at(-1)?.seq ?? -1;
  }
}

/**
 * A Collector with a small send buffer that drains a moment later, as a slow socket would: replays
 * must send only what fits and wait for it to drain.
 */
export class PacedCollector extends Collector {
  private outstanding = 0;

  constructor(private readonly budget: number) {
    super();
  }

  override send(frame: string): void {
    super.send(frame);
    this.outstanding += Buffer.byteLength(frame);
  }

  room(): number {
    return this.budget - this.outstanding;
  }

  drained(): Promise<void> {
    return new Promise((resolve) =>
      setTimeout(
        () => {
          this.outstanding = 0;
          resolve();
        },
        Math.floor(Math.random() * 3),
      ),
    );
  }
}

/**
 * Checks what a client checks: the first frame is the expected subok, then messages whose prev
 * chain starts at the subok's seq with no gap and no duplicate, exactly the expected seqs.
 */
export function assertStream(
  t: ExecutionContext,
  collector: Collector,
  subok: Partial<SubOkFrame>,
  expectedSeqs: readonly number[],
  label = "",
): void {
  const [first, ...rest] = collector.frames;
  t.like(first, { op: "subok", ...subok }, `${label} subok`);
  t.true(
    rest.every((f) => f.op === "msg"),
    `${label} only messages after subok`,
  );
  let prev = (first as SubOkFrame).seq;
  let chained = true;
  for (const message of rest as MsgFrame[]) {
    if (message.prev !== prev) chained = false;
    prev = message.seq;
  }
  t.true(chained, `${label} unbroken prev chain`);
  t.deepEqual(
    (rest as MsgFrame[]).map((m) => m.seq),
    [...expectedSeqs],
    `${label} every message once, in order`,
  );
}

/**
 * A real backend, observed: counts reads and open feeds; reads can be delayed or held, and live
 * messages delayed (in order), as a live feed lags its log in production (JetStream RePublish).
 */
export class ObservedBackend implements Backend {
  readonly kind: Backend["kind"];
  reads = 0;
  openFeeds = 0;
  feedsOpened = 0;
  /** Extra time each read takes, in ms (a slow log). */
  readDelayMs: () => number = () => 0;
  /** While set, reads wait for it. */
  gate: Promise<void> | undefined;
  /** Extra time each live event takes to arrive, in ms; events keep their order. */
  liveDelayMs: () => number = () => 0;
  /** Live messages for which this is true are lost on the way (a feed with a gap). */
  loseLive: (message: StoredMessage) => boolean = () => false;

  constructor(readonly inner: Backend) {
    this.kind = inner.kind;
  }

  start(): Promise<void> {
    return this.inner.start();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  status() {
    return this.inner.status();
  }
  onStatus(listener: Parameters<Backend["onStatus"]>[0]) {
    return this.inner.onStatus(listener);
  }
  epoch(): string {
    return this.inner.epoch();
  }

  confirmedEpoch(): Promise<string> {
    return this.inner.confirmedEpoch();
  }
  publish(input: PublishInput) {
    return this.inner.publish(input);
  }

  async read(topic: string, from: ReadFrom, limit: number): Promise<ReadResult> {
    this.reads++;
    const result = await this.inner.read(topic, from, limit);
    const delay = this.readDelayMs();
    if (delay > 0) await sleep(delay);
    await this.gate;
    return result;
  }

  async live(topic: string, handlers: LiveHandlers): Promise<LiveFeed> {
    let arrivals = Promise.resolve();
    const later = (deliver: () => void) => {
      const delay = this.liveDelayMs();
      if (delay === 0) {
        arrivals = arrivals.then(deliver);
        return;
      }
      arrivals = arrivals.then(() => sleep(delay)).then(deliver);
    };
    const feed = await this.inner.live(topic, {
      message: (message) => {
        if (!this.loseLive(message)) later(() => handlers.message(message));
      },
      reset: (info) => later(() => handlers.reset(info)),
    });
    this.openFeeds++;
    this.feedsOpened++;
    let open = true;
    return {
      head: feed.head,
      epoch: feed.epoch,
      close: () => {
        if (open) this.openFeeds--;
        open = false;
        feed.close();
      },
    };
  }
}
