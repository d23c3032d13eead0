// Real headless Chromium (the Debian package) driven by playwright-core, for the browser tests.
// Each browser gets a fresh user-data directory (no state from earlier runs: localStorage starts
// empty) and is closed, and its directory removed, when the test ends.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import type { Teardown } from "./nats-server.js";

const NOT_FOUND =
  "chromium not found: run `bash scripts/test-tools.sh` as root or `apt-get install -y chromium`";

/** Flags for a quiet, sandbox-free headless run on a CI machine without a GPU or network. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-dev-shm-usage",
  "--disable-extensions",
  // Test pages are served with Playwright's request routing, which Chromium's Local Network Access
  // treats as a public origin and then blocks its WebSocket to 127.0.0.1. A page that the edge
  // itself serves (loopback to loopback) is never blocked, so this changes nothing the tests check.
  "--disable-features=LocalNetworkAccessChecks",
];

/** The Chromium binary: /usr/bin/chromium, else `chromium` on the PATH; throws saying how to install it. */
export function chromiumPath(): string {
  if (existsSync("/usr/bin/chromium")) return "/usr/bin/chromium";
  const found = spawnSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === "") throw new Error(NOT_FOUND);
  return path;
}

/** A fresh headless Chromium context (its own profile directory), closed at the end of the test. */
export async function launchChromium(t: Teardown): Promise<BrowserContext> {
  const executablePath = chromiumPath();
  const userDataDir = mkdtempSync(join(tmpdir(), "herald-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 60_000,
    });
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
  t.teardown(async () => {
    await context.close().catch(() => undefined);
    rmSync(userDataDir, { recursive: true, force: true });
  });
  return context;
}
