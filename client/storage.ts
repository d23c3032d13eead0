// Optional persistence of subscription positions, so that a restarted page or service resumes
// where it stopped instead of starting live (and missing what came in between).
import type { FromPosition } from "./wire.js";

/** Where a subscription stands on its topic: after the message `seq` of the history `epoch`. */
export interface Position extends FromPosition {
  /** The identity of the topic's history (docs/protocol.md "epoch"); a position of another epoch is void. */
  epoch: string;
  /** The seq of the last message delivered, or where the edge said delivery continues. */
  seq: number;
}

/**
 * Where positions are kept, by topic. `load` may be asynchronous (a file, a database); `save` is
 * called after every delivered message and must not throw for a full or unavailable store.
 */
export interface PositionStorage {
  /** The position stored for `topic`, or undefined for none (the subscription then starts as `from` says). */
  load(topic: string): Position | undefined | Promise<Position | undefined>;
  /** Stores the position of `topic`, after each delivered message (its handler finished). */
  save(topic: string, position: Position): void;
  /** Forgets the position of `topic`. */
  remove(topic: string): void;
}

/** A position read back from storage, or undefined when it is absent or not a position. */
export function parsePosition(text: string | null | undefined): Position | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<Position> | null;
    if (
      typeof value?.epoch === "string" &&
      value.epoch.length > 0 &&
      Number.isSafeInteger(value.seq) &&
      value.seq! >= 0
    ) {
      return { epoch: value.epoch, seq: value.seq! };
    }
  } catch {
    // A corrupt entry is treated as absent: the subscription starts as configured.
  }
  return undefined;
}

/** The subset of the Web Storage API the adapter needs (localStorage, sessionStorage). */
export interface WebStorageLike {
  /** The value stored under `key`, or null. */
  getItem(key: string): string | null;
  /** Stores `value` under `key` (may throw when the storage is full or disabled: the SDK carries on). */
  setItem(key: string, value: string): void;
  /** Removes `key`. */
  removeItem(key: string): void;
}

/**
 * Positions in `localStorage` (or any Web Storage), under `<prefix><topic>`. Use one prefix per
 * Herald service when a page talks to several, so their positions do not mix.
 */
export function webStoragePositions(
  options: { prefix?: string; storage?: WebStorageLike } = {},
): PositionStorage {
  const prefix = options.prefix ?? "herald:";
  const store = options.storage ?? defaultWebStorage();
  return {
    load: (topic) => parsePosition(store.getItem(prefix + topic)),
    save: (topic, position) => {
      try {
        store.setItem(prefix + topic, JSON.stringify(position));
      } catch {
        // Quota exceeded or storage disabled: delivery goes on, only persistence is lost.
      }
    },
    remove: (topic) => store.removeItem(prefix + topic),
  };
}

function defaultWebStorage(): WebStorageLike {
  let store: WebStorageLike | undefined;
  try {
    store = globalThis.localStorage;
  } catch {
    // Reading localStorage throws where the page may not use it (sandboxed frame, blocked cookies).
  }
  if (!store)
    throw new Error("herald: localStorage is not available here; pass { storage } or use memoryPositions()");
  return store;
}

/** Positions kept in memory: survive reconnects of several clients sharing it, not restarts. */
export function memoryPositions(
  initial: Iterable<[string, Position]> = [],
): PositionStorage & { readonly entries: Map<string, Position> } {
  const entries = new Map(initial);
  return {
    entries,
    load: (topic) => entries.get(topic),
    save: (topic, position) => void entries.set(topic, { ...position }),
    remove: (topic) => void entries.delete(topic),
  };
}
