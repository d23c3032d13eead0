// The subscriptions of one connection: at most one per topic, each backed by a hub subscription once
// the hub has answered. An ended subscription drops whatever the hub still sends for it, also when
// it ended before the hub answered (the hub subscription is then closed as soon as it arrives).
import type { From, RequestId } from "../../protocol/index.js";
import type { Hub, HubSubscription, Subscriber } from "../hub/hub.js";
import type { ReadBudget } from "../hub/read-budget.js";

/** The connection a session's subscriptions send over: the session, with its bounded send queue. */
export interface SubscriptionConnection {
  /** Queues one encoded edge frame. */
  enqueue(frame: string): void;
  room(): number;
  idle(): boolean;
  drained(bytes: number): Promise<void>;
  /** What the connection may make the edge read from the log (shared by its subscriptions). */
  readonly reads: ReadBudget;
  /** A replay cannot catch up with its topic: the connection is closed as a slow consumer. */
  slowReplay(): void;
}

/**
 * One subscription of the connection, as the hub sees its subscriber: it forwards to the connection
 * while active and drops what the hub still sends once it ended. (Methods, not closures: an edge
 * holds one per subscription.)
 */
class Entry implements Required<Subscriber> {
  /** false once the subscription ended: late frames from the hub are dropped. */
  active = true;
  hub: HubSubscription | undefined;

  constructor(
    private readonly connection: SubscriptionConnection,
    /** The id of the `sub` request, echoed in the err frame if the subscription is ended for it. */
    readonly id: RequestId | undefined,
  ) {}

  send(frame: string): void {
    if (this.active) this.connection.enqueue(frame);
  }

  room(): number {
    return this.connection.room();
  }

  idle(): boolean {
    return this.connection.idle();
  }

  drained(bytes: number): Promise<void> {
    return this.connection.drained(bytes);
  }

  get reads(): ReadBudget {
    return this.connection.reads;
  }

  slow(): void {
    if (this.active) this.connection.slowReplay();
  }
}

export interface EndedSubscription {
  readonly topic: string;
  readonly id: RequestId | undefined;
}

export class SessionSubscriptions {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly hub: Hub,
    /** The connection's send path: queues encoded frames, paces replays. */
    private readonly connection: SubscriptionConnection,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(topic: string): boolean {
    return this.entries.has(topic);
  }

  /**
   * Subscribes through the hub, which sends subok, replay and live frames to the connection. Rejects
   * with the hub's error when the subscription failed while still wanted; resolves otherwise.
   */
  async open(topic: string, from: From | undefined, id: RequestId | undefined): Promise<void> {
    const entry = new Entry(this.connection, id);
    this.entries.set(topic, entry);
    let subscription: HubSubscription;
    try {
      subscription = await this.hub.subscribe(topic, entry, from, id);
    } catch (error) {
      if (!entry.active) return;
      this.end(topic, entry);
      throw error;
    }
    if (entry.active) entry.hub = subscription;
    else subscription.close();
  }

  /** Ends the subscription to `topic`; false when there is none. */
  close(topic: string): boolean {
    const entry = this.entries.get(topic);
    if (!entry) return false;
    this.end(topic, entry);
    return true;
  }

  /** Ends every subscription whose topic is no longer allowed, and says which ones. */
  retainAllowed(allowed: (topic: string) => boolean): EndedSubscription[] {
    const ended: EndedSubscription[] = [];
    for (const [topic, entry] of [...this.entries]) {
      if (allowed(topic)) continue;
      this.end(topic, entry);
      ended.push({ topic, id: entry.id });
    }
    return ended;
  }

  /** Ends everything (the connection is gone). */
  closeAll(): void {
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const entry of entries) entry.active = false;
    // This may run while the hub is fanning a message out to this connection (a 4008 raised from
    // deliver); closing the hub subscriptions after the current synchronous run keeps its loop intact.
    queueMicrotask(() => {
      for (const entry of entries) entry.hub?.close();
    });
  }

  private end(topic: string, entry: Entry): void {
    entry.active = false;
    entry.hub?.close();
    this.entries.delete(topic);
  }
}
