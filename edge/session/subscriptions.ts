// The subscriptions of one connection: at most one per topic, each backed by a hub subscription once
// the hub has answered. An ended subscription drops whatever the hub still sends for it, also when
// it ended before the hub answered (the hub subscription is then closed as soon as it arrives).
import type { From, RequestId } from "../../protocol/index.js";
import type { Hub, HubSubscription, Subscriber } from "../hub/hub.js";

interface Entry {
  /** false once the subscription ended: late frames from the hub are dropped. */
  active: boolean;
  /** The id of the `sub` request, echoed in the err frame if the subscription is ended for it. */
  readonly id: RequestId | undefined;
  hub?: HubSubscription;
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
    private readonly connection: Required<Subscriber>,
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
    const entry: Entry = { active: true, id };
    this.entries.set(topic, entry);
    let subscription: HubSubscription;
    try {
      const subscriber: Subscriber = {
        send: (frame) => entry.active && this.connection.send(frame),
        room: () => this.connection.room(),
        idle: () => this.connection.idle(),
        drained: (bytes) => this.connection.drained(bytes),
        reads: this.connection.reads,
        slow: () => entry.active && this.connection.slow(),
      };
      subscription = await this.hub.subscribe(topic, subscriber, from, id);
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
