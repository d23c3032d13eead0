// Picks the durable log: NATS JetStream when HERALD_NATS_URL is set, else the embedded log.
import type { EdgeConfig } from "../../shared/config.js";
import { silentLogger, type Logger } from "../common/log.js";
import type { EdgeMetrics } from "../common/metrics.js";
import type { MemoryBudget } from "../common/memory-budget.js";
import type { Backend } from "./backend.js";

export async function createBackend(
  config: EdgeConfig,
  metrics: EdgeMetrics,
  log: Logger = silentLogger,
  budget?: MemoryBudget,
): Promise<Backend> {
  if (config.natsUrl) {
    const { JetStreamBackend } = await import("./jetstream/jetstream-backend.js");
    return new JetStreamBackend(config, metrics, log, budget);
  }
  const { EmbeddedBackend } = await import("./embedded/embedded-backend.js");
  return new EmbeddedBackend(config, metrics);
}
