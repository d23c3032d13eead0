/**
 * The one "wait for a condition, with a deadline" helper of the tests. Tests poll for what a user
 * would observe instead of sleeping and hoping, so they stay correct on a slow, loaded machine.
 */
import { setTimeout as sleep } from "node:timers/promises";

/**
 * The one pause of the tests (`await sleep(ms)`): for pacing load or letting time pass on purpose
 * (a token expiring, a window closing), never for waiting until something happened (waitFor).
 */
export { sleep };

/** A check that is not satisfied yet answers false or undefined; anything else is the awaited value. */
export type Check<T> = () => T | false | undefined | Promise<T | false | undefined>;

export interface WaitOptions {
  /** How long to wait before failing; generous by default because the test machine is shared. */
  readonly timeoutMs?: number;
  /** Pause between two checks. */
  readonly intervalMs?: number;
  /**
   * Treat an error thrown by `check` as "not yet" (the timeout then names the last one): for
   * checks against something that may refuse while it settles (an API server, a restarting
   * process). Off by default: a broken check should fail at once, not look slow.
   */
  readonly retryErrors?: boolean;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_INTERVAL_MS = 25;

/**
 * Calls `check` (sync or async) until it answers something other than false/undefined and returns
 * that answer. Past the deadline it throws "timed out after N ms waiting for <what>" (`what` may be
 * a function, asked only then, to include what was seen meanwhile: a process's output, the last
 * error). An error thrown by `check` is not retried unless `retryErrors` says so: it fails the wait
 * at once, so a broken check is not mistaken for a slow one.
 */
export async function waitFor<T>(
  what: string | (() => string),
  check: Check<T>,
  options: WaitOptions | number = {},
): Promise<T> {
  const {
    timeoutMs = DEFAULT_TIMEOUT_MS,
    intervalMs = DEFAULT_INTERVAL_MS,
    retryErrors = false,
  } = typeof options === "number" ? { timeoutMs: options } : options;
  let lastError: unknown;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | false | undefined;
    try {
      value = await check();
    } catch (error) {
      if (!retryErrors) throw error;
      lastError = error;
    }
    if (value !== false && value !== undefined) return value;
    if (Date.now() > deadline) {
      const last = lastError === undefined ? "" : ` (last error: ${String(lastError)})`;
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}${last}`,
      );
    }
    await sleep(intervalMs);
  }
}
