// The leader's step-down rule, and the elector against the fake API server when that server hangs:
// the leader must stop leading within its renew deadline, before a candidate may take over.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { KubeConfig } from "@kubernetes/client-node";
import { startFakeApiServer } from "../e2e/fake-apiserver/server.js";
import { writeKubeconfig } from "../e2e/fake-apiserver/kubeconfig.js";
import { KubeClient } from "./kube.js";
import { LeaderElector, mustStepDown, type LeaseOptions } from "./leader.js";

test("a leader steps down once its last successful renew was sent a renew deadline ago", (t) => {
  t.false(mustStepDown(1000, 1000, 2000));
  t.false(mustStepDown(1000, 2999, 2000));
  t.true(mustStepDown(1000, 3000, 2000));
  t.true(mustStepDown(1000, 60_000, 2000));
});

test("the elector refuses timings that could let two replicas lead", (t) => {
  const client = {} as KubeClient;
  const callbacks = { started() {}, stopped() {}, log() {} };
  const options: LeaseOptions = {
    namespace: "default",
    name: "x",
    identity: "a",
    leaseDurationSeconds: 3,
    renewDeadlineMs: 2000,
    retryPeriodMs: 600,
  };
  t.notThrows(() => new LeaderElector(client, options, callbacks));
  t.throws(() => new LeaderElector(client, { ...options, renewDeadlineMs: 3000 }, callbacks), {
    message:
      "leader election needs 0 < retry period (600 ms) < renew deadline (3000 ms) < lease duration (3 s)",
  });
  t.throws(() => new LeaderElector(client, { ...options, retryPeriodMs: 2000 }, callbacks), {
    message: /retry period \(2000 ms\) < renew deadline \(2000 ms\)/,
  });
});

test("a leader whose API server hangs steps down within its renew deadline", async (t) => {
  const api = await startFakeApiServer();
  const dir = mkdtempSync(join(tmpdir(), "herald-leader-"));
  t.teardown(async () => {
    api.stall(false);
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const config = new KubeConfig();
  config.loadFromFile(writeKubeconfig(join(dir, "kubeconfig"), api.url));
  const lines: string[] = [];
  let started!: () => void;
  let stopped!: () => void;
  const becameLeader = new Promise<void>((resolve) => (started = resolve));
  const steppedDown = new Promise<void>((resolve) => (stopped = resolve));
  const elector = new LeaderElector(
    new KubeClient(config),
    {
      namespace: "default",
      name: "lease",
      identity: "op-a",
      leaseDurationSeconds: 3,
      renewDeadlineMs: 2000,
      retryPeriodMs: 300,
    },
    { started, stopped, log: (line) => lines.push(line) },
  );
  t.teardown(() => elector.release());
  elector.start();
  await becameLeader;
  t.true(elector.isLeader);
  // Requests are now accepted and never answered: without its own deadline the leader would wait forever, still leading.
  api.stall(true);
  await steppedDown;
  t.false(elector.isLeader);
  t.true(
    lines.some((line) => /^lease lease: no answer within \d+ ms$/.test(line)),
    lines.join("\n"),
  );
  t.true(
    lines.includes("lost leadership: could not renew the lease within the renew deadline (2000 ms)"),
    lines.join("\n"),
  );
  // The lease still names op-a (nothing was written), so a candidate waits a whole lease duration
  // from op-a's last renew, longer than op-a's renew deadline.
  t.is(
    (api.store.get("coordination.k8s.io/leases", "default", "lease").spec as { holderIdentity: string })
      .holderIdentity,
    "op-a",
  );
});
