// The well-behaved pair beside the hostile input: a publisher that POSTs a numbered message every
// few milliseconds over one kept-alive HTTP connection, and a subscriber on its own WebSocket. A
// publish that fails on the network (the edge may be refusing new connections at that moment) is
// retried with the same msgId, so the edge's dedupe keeps it exactly-once.
import { Agent, request } from "node:http";
import type { EdgeProcess } from "../harness/edge-process.js";
import { sleep } from "../harness/wait.js";

const INTERVAL_MS = 20;
const RETRY_MS = 100;

export class SteadyPublisher {
  /** Messages acknowledged by the edge: 1..published. */
  published = 0;
  private stopped = false;
  private failure: Error | undefined;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private readonly loop: Promise<void>;

  constructor(
    private readonly edge: EdgeProcess,
    private readonly topic: string,
    private readonly authorization: string,
  ) {
    // Kept until stop() so that a refused publish fails the test there, not as an unhandled rejection.
    this.loop = this.run().catch((error: Error) => void (this.failure = error));
  }

  /** Stops after the message in flight; resolves with how many were published, or throws why it could not go on. */
  async stop(): Promise<number> {
    this.stopped = true;
    await this.loop;
    this.agent.destroy();
    if (this.failure) throw this.failure;
    return this.published;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const n = this.published + 1;
      const outcome = await this.post(
        JSON.stringify({ topic: this.topic, data: n, msgId: `steady-${n}` }),
      ).catch((error: Error) => error);
      if (outcome instanceof Error) {
        // Refused at the TCP level (pending-upgrade or connection bounds under test): retry.
        await sleep(RETRY_MS);
        continue;
      }
      if (outcome.status !== 200)
        throw new Error(`steady publish ${n} answered ${outcome.status}: ${outcome.body}`);
      this.published = n;
      await sleep(INTERVAL_MS);
    }
  }

  private post(body: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.edge.url}/v1/publish`,
        {
          method: "POST",
          agent: this.agent,
          headers: { "content-type": "application/json", authorization: this.authorization },
        },
        (response) => {
          let text = "";
          response.on("data", (chunk: Buffer) => (text += chunk.toString()));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
          response.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }
}
