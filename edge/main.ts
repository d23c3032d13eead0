// The edge process: configuration from the environment, one edge, JSON logs, and a graceful drain
// on SIGTERM/SIGINT (exit 0 once every connection was handed off).
import { checkConfigFiles, ConfigError, loadConfig, type EdgeConfig } from "../shared/config.js";
import { createLogger } from "./common/log.js";
import { startEdge } from "./server.js";

/** One line per bad value, nothing else: the operator or person starting us reads these. */
function refuseConfiguration(error: ConfigError): never {
  for (const problem of error.problems) process.stderr.write(`herald: ${problem}\n`);
  process.exit(1);
}

let config: EdgeConfig;
try {
  config = loadConfig();
  checkConfigFiles(config);
} catch (error) {
  if (error instanceof ConfigError) refuseConfiguration(error);
  throw error;
}

const log = createLogger(config.logLevel, {
  base: config.notificationService === undefined ? {} : { notificationservice: config.notificationService },
});
process.on("uncaughtException", (error) => {
  log.log("fatal", "uncaught_exception", { error: error.stack ?? String(error) });
  process.exit(1);
});

try {
  const edge = await startEdge(config, { log });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.log("info", "signal", { signal });
    edge.drain().then(
      () => process.exit(0),
      (error: unknown) => {
        log.log("error", "drain_failed", { error: String(error) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} catch (error) {
  // Keys and URLs are checked when the authenticator is built: same one-line-per-problem answer.
  if (error instanceof ConfigError) refuseConfiguration(error);
  log.log("fatal", "start_failed", { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
