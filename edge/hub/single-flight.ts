// Concurrent requests for the same key share one in-flight promise: a reconnect storm of many
// clients resuming one topic costs the durable log one read, not one per client.

export class SingleFlight<V> {
  private readonly inFlight = new Map<string, Promise<V>>();

  /** The pending promise for `key`, or a new one from `run` that is forgotten once it settles. */
  run(key: string, run: () => Promise<V>): Promise<V> {
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const promise = run().finally(() => {
      if (this.inFlight.get(key) === promise) this.inFlight.delete(key);
    });
    this.inFlight.set(key, promise);
    return promise;
  }

  /** Forgets every pending promise (their callers still get their results); later calls start anew. */
  clear(): void {
    this.inFlight.clear();
  }
}
