// One JSON line per event on stdout, filtered by HERALD_LOG_LEVEL. Callers pass only plain fields:
// tokens, API keys and message data are never handed to the logger, so they can never be printed.
import type { EdgeConfig } from "../../shared/config.js";

export type LogLevel = EdgeConfig["logLevel"];
type EventLevel = Exclude<LogLevel, "silent">;

const RANK: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: 100,
};

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  log(level: EventLevel, event: string, fields?: LogFields): void;
  enabled(level: EventLevel): boolean;
}

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  const threshold = RANK[level];
  return {
    enabled: (at) => RANK[at] >= threshold,
    log(at, event, fields = {}) {
      if (RANK[at] < threshold) return;
      write(`${JSON.stringify({ time: new Date().toISOString(), level: at, event, ...fields })}\n`);
    },
  };
}

/** A logger that drops everything: the default for edges started in-process by tests. */
export const silentLogger: Logger = createLogger("silent");
