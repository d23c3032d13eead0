// Both backends behind one factory, for tests that hold them to the same semantics: the embedded
// log in this process, and JetStream on a fresh nats-server.
import type { ExecutionContext } from "ava";
import { loadConfig } from "../../shared/config.js";
import { EdgeMetrics } from "../../edge/common/metrics.js";
import type { Backend } from "../../edge/backend/backend.js";
import { EmbeddedBackend } from "../../edge/backend/embedded/embedded-backend.js";
import { startNats } from "./nats-server.js";
import { startBackend } from "./jetstream-support.js";

export type StartBackend = (t: ExecutionContext, env?: Record<string, string>) => Promise<Backend>;

export const BACKENDS: readonly (readonly [kind: "embedded" | "jetstream", start: StartBackend])[] = [
  [
    "embedded",
    async (t, env = {}) => {
      const backend = new EmbeddedBackend(loadConfig(env), new EdgeMetrics());
      t.teardown(() => backend.close());
      await backend.start();
      return backend;
    },
  ],
  [
    "jetstream",
    async (t, env = {}) => {
      const nats = await startNats(t);
      return (await startBackend(t, nats.url, env)).backend;
    },
  ],
];
