// NATS settings that can never work are refused at start, by the real edge process, with one clear
// line and exit code 1 — instead of an edge that starts and then retries or misreports forever.
import test from "ava";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../shared/config.js";
import { spawnEdge } from "../harness/edge-process.js";

const natsUrlProblem = (value: string) =>
  `HERALD_NATS_URL must list NATS servers as nats://, tls://, ws://, wss:// URLs or host:port, each with a host and a port 1-65535 (default 4222), got ${JSON.stringify(value)}`;

test("HERALD_NATS_URL entries that are not NATS servers: one line naming the bad entry, exit 1", async (t) => {
  const cases = [
    ["not a url", "not a url"],
    ["nats://127.0.0.1:4222,localhost:99999", "localhost:99999"],
    ["http://127.0.0.1:4222", "http://127.0.0.1:4222"],
    ["nats://:4222", "nats://:4222"],
    ["nats://127.0.0.1:0", "nats://127.0.0.1:0"],
  ] as const;
  const edges = await Promise.all(
    cases.map(async ([url, bad]) => ({
      url,
      bad,
      edge: await spawnEdge(t, { HERALD_NATS_URL: url }, { waitReady: false }),
    })),
  );
  for (const { url, bad, edge } of edges) {
    t.is(await edge.exited, 1, url);
    t.is(edge.stderr(), `herald: ${natsUrlProblem(bad)}\n`);
    t.is(edge.stdout(), "", "nothing was started, so nothing was logged");
  }
});

test("every server form nats.js accepts is accepted", (t) => {
  const urls =
    "nats://nats.nats:4222, tls://nats.example.com:4443,ws://127.0.0.1:8080,wss://[::1]:443,127.0.0.1:4222,nats-0.nats,NATS://n";
  t.deepEqual(
    loadConfig({ HERALD_NATS_URL: urls }).natsUrl,
    urls.split(",").map((url) => url.trim()),
  );
});

test("HERALD_NATS_CREDS naming a missing file: refused at start, not reported as an unreachable NATS", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "herald-creds-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const edge = await spawnEdge(
    t,
    { HERALD_NATS_URL: "nats://127.0.0.1:4222", HERALD_NATS_CREDS: join(dir, "missing.creds") },
    { waitReady: false },
  );
  t.is(await edge.exited, 1);
  t.is(
    edge.stderr(),
    "herald: HERALD_NATS_CREDS must name a readable NATS credentials file: ENOENT: no such file or directory\n",
  );
  t.is(edge.stdout(), "");
});

test("HERALD_NATS_CREDS without HERALD_NATS_URL: refused at start instead of silently ignored", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "herald-creds-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const creds = join(dir, "user.creds");
  await writeFile(creds, "-----BEGIN NATS USER JWT-----\nx\n------END NATS USER JWT------\n");
  const edge = await spawnEdge(t, { HERALD_NATS_CREDS: creds }, { waitReady: false });
  t.is(await edge.exited, 1);
  t.is(
    edge.stderr(),
    "herald: HERALD_NATS_CREDS is set but HERALD_NATS_URL is not: credentials are only used with NATS\n",
  );
  t.is(edge.stdout(), "");
});
