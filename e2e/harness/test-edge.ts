// An edge started in this test process on free ports of 127.0.0.1 (public and internal), closed
// when the test ends.
import type { ExecutionContext } from "ava";
import { loadConfig } from "../../shared/config.js";
import { startEdge, type RunningEdge } from "../../edge/server.js";

/** Starts an edge with the embedded backend (unless env says otherwise) and HERALD_* overrides. */
export async function startTestEdge(
  t: ExecutionContext,
  env: Record<string, string> = {},
): Promise<RunningEdge> {
  const config = loadConfig({
    HERALD_PORT: "0",
    HERALD_METRICS_PORT: "0",
    HERALD_HOST: "127.0.0.1",
    ...env,
  });
  const edge = await startEdge(config);
  t.teardown(() => edge.close());
  return edge;
}
