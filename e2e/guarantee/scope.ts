// What ava's t.teardown does, for runs outside ava (npm run soak): everything registered is
// stopped, newest first, when the run ends.
import type { Teardown } from "../harness/nats-server.js";

export class Scope implements Teardown {
  private readonly tasks: (() => void | Promise<void>)[] = [];

  teardown(fn: () => void | Promise<void>): void {
    this.tasks.push(fn);
  }

  async close(): Promise<void> {
    while (this.tasks.length > 0) {
      const task = this.tasks.pop()!;
      try {
        await task();
      } catch {
        // Best effort: the next ones must still run.
      }
    }
  }
}
