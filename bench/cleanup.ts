// The e2e harness registers cleanups with a test's `t.teardown`; a benchmark is not a test, so this
// stands in for the test context and runs the cleanups itself, last registered first.
import type { Teardown } from "../e2e/harness/nats-server.js";

export class Cleanup implements Teardown {
  private readonly steps: (() => void | Promise<void>)[] = [];
  teardown(fn: () => void | Promise<void>): void {
    this.steps.push(fn);
  }
  async run(): Promise<void> {
    for (const step of this.steps.reverse()) await step();
  }
}
