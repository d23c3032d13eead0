// One structured logger for the edge (and its JetStream backend) and the operator: pino, one JSON
// object per line on stdout, `level` as its name, `time` in ISO 8601, what happened in `event`.
// Callers hand over plain fields and never a credential; fields named like one are redacted all the
// same (docs/operations.md#logs).
import pino from "pino";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
type EventLevel = Exclude<LogLevel, "silent">;

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  log(level: EventLevel, event: string, fields?: LogFields): void;
  enabled(level: EventLevel): boolean;
  /** A logger whose every line also carries `bindings` (a connection's session id, a resource). */
  child(bindings: LogFields): Logger;
}

/** Field names that hold credentials, at the top level and one level down. */
const CREDENTIALS = [
  "token",
  "authorization",
  "apiKey",
  "apiKeys",
  "password",
  "secret",
  "jwtSecret",
  "creds",
  "seed",
  "nkey",
];
const REDACT = CREDENTIALS.flatMap((name) => [name, `*.${name}`]);

export interface LoggerOptions {
  /** Fields on every line, e.g. the NotificationService an edge serves. */
  readonly base?: LogFields;
  /** Where lines go (tests); stdout by default. */
  readonly write?: (line: string) => void;
}

export function createLogger(level: LogLevel, options: LoggerOptions = {}): Logger {
  const destination = options.write ? { write: options.write } : pino.destination({ dest: 1, sync: true });
  const logger = pino(
    {
      level,
      messageKey: "event",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      base: { ...options.base },
      redact: { paths: REDACT, censor: "[redacted]" },
    },
    destination,
  );
  return wrap(logger);
}

function wrap(logger: pino.Logger): Logger {
  return {
    log: (level, event, fields) => logger[level](fields ?? {}, event),
    enabled: (level) => logger.isLevelEnabled(level),
    child: (bindings) => new LazyChild(logger, bindings),
  };
}

/**
 * A child made on its first enabled line: an edge holds one logger per connection, and a pino child
 * costs about 1 KB of heap, most of it for connections that never log above the level. A class, so
 * that what it holds per connection is its two fields.
 */
class LazyChild implements Logger {
  private real: Logger | undefined;

  constructor(
    private readonly parent: pino.Logger,
    private readonly bindings: LogFields,
  ) {}

  log(level: EventLevel, event: string, fields?: LogFields): void {
    if (this.parent.isLevelEnabled(level)) this.made().log(level, event, fields);
  }

  enabled(level: EventLevel): boolean {
    return this.parent.isLevelEnabled(level);
  }

  child(more: LogFields): Logger {
    return this.made().child(more);
  }

  private made(): Logger {
    return (this.real ??= wrap(this.parent.child(this.bindings)));
  }
}

/** A logger that drops everything: the default for edges started in-process by tests. */
export const silentLogger: Logger = createLogger("silent");
