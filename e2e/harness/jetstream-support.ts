// Shared pieces of the JetStream backend tests: a backend on a real nats-server, and a recorder of
// live-feed events that tests wait on (polling with a deadline, never sleeping).
import { loadConfig } from "../../shared/config.js";
import { EdgeMetrics } from "../../edge/common/metrics.js";
import type { LiveHandlers, StoredMessage } from "../../edge/backend/backend.js";
import { JetStreamBackend } from "../../edge/backend/jetstream/jetstream-backend.js";
import type { Teardown } from "./nats-server.js";

export async function startBackend(
  t: Teardown,
  url: string,
  env: Record<string, string> = {},
): Promise<{ backend: JetStreamBackend; metrics: EdgeMetrics }> {
  const metrics = new EdgeMetrics();
  const backend = new JetStreamBackend(loadConfig({ HERALD_NATS_URL: url, ...env }), metrics);
  t.teardown(() => backend.close());
  await backend.start();
  return { backend, metrics };
}

export type FeedEvent = { message: StoredMessage } | { reset: { epoch: string; head: number } };

export class Recorder implements LiveHandlers {
  readonly events: FeedEvent[] = [];
  message(message: StoredMessage): void {
    this.events.push({ message });
  }
  reset(info: { epoch: string; head: number }): void {
    this.events.push({ reset: info });
  }
  messages(): StoredMessage[] {
    return this.events.flatMap((e) => ("message" in e ? [e.message] : []));
  }
}

export { chainProblem } from "./ws-client.js";
