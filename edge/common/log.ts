// The edge logs through the one structured logger edge and operator share (shared/log.ts: pino).
export { createLogger, silentLogger, type LogFields, type Logger, type LogLevel } from "../../shared/log.js";
