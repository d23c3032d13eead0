// The operator when things break: the API server restarts mid-watch (with its watch history
// compacted, so old versions answer 410 Gone), and the leading replica is killed.
import test from "ava";
import { startNats } from "../harness/nats-server.js";
import {
  applyResource as apply,
  condition,
  DEPLOYMENTS,
  NS_PATH,
  startCluster,
  streamInfo,
  waitFor,
  waitForCondition,
} from "./harness.js";
import type { KubeObject } from "../fake-apiserver/store.js";

const LEASE = "/apis/coordination.k8s.io/v1/namespaces/default/leases/herald-operator";

const image = (d: KubeObject | undefined) =>
  (d?.spec as { template: { spec: { containers: { image: string }[] } } } | undefined)?.template.spec
    .containers[0]?.image;

test("the API server restarts mid-watch with compacted history: the operator re-lists and converges", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  const operator = await cluster.startOperator("op-1");
  await apply(cluster, "one", { nats: { url: nats.url }, stream: { replicas: 1 } });
  await waitFor("one's Deployment", () => cluster.get(`${DEPLOYMENTS}/one-edge`));
  await waitFor(
    "the operator to be watching",
    async () => (await operator.metric("controller_runtime_reconcile_total")) > 0,
  );
  const restartsBefore = await operator.metric("herald_operator_watch_restarts_total");

  // While the API server is down, the world changes behind the operator's back.
  await cluster.api.stop();
  const store = cluster.api.store;
  store.create(
    "herald.dev/notificationservices",
    {
      apiVersion: "herald.dev/v1alpha1",
      kind: "NotificationService",
      metadata: { name: "two", namespace: "default" },
      spec: { nats: { url: nats.url }, stream: { replicas: 1 } },
    },
    true,
  );
  store.delete("apps/deployments", "default", "one-edge");
  await cluster.api.restart({ compact: true });

  await waitFor("two's Deployment", () => cluster.get(`${DEPLOYMENTS}/two-edge`));
  await waitFor("one's Deployment to be re-created", () => cluster.get(`${DEPLOYMENTS}/one-edge`));
  t.true((await operator.metric("herald_operator_watch_restarts_total")) > restartsBefore);
  t.regex(operator.output(), /too old resource version/, "the resumed watch got 410 Gone and re-listed");
  // And it keeps watching: a change after the restart is picked up.
  await apply(cluster, "two", {
    nats: { url: nats.url },
    stream: { replicas: 1 },
    edge: { image: "herald/edge:after" },
  });
  await waitFor(
    "the change after the restart",
    async () => image(await cluster.get(`${DEPLOYMENTS}/two-edge`)) === "herald/edge:after",
  );
});

test("two operators: exactly one reconciles; the other takes over when the leader is killed", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  const first = await cluster.startOperator("op-a");
  await waitFor("op-a to lead", () => first.output().includes("became leader"));
  const second = await cluster.startOperator("op-b");

  await apply(cluster, "news", {
    nats: { url: nats.url },
    stream: { replicas: 1 },
    edge: { image: "herald/edge:1" },
  });
  await waitFor("the Deployment", () => cluster.get(`${DEPLOYMENTS}/news-edge`));
  await waitFor("the status", async () => (await cluster.get(`${NS_PATH}/news`))?.status);
  const lease = (await cluster.get(LEASE))!.spec as { holderIdentity: string; leaseTransitions: number };
  t.is(lease.holderIdentity, "op-a");
  t.is(await second.metric("controller_runtime_reconcile_total"), 0, "the standby reconciles nothing");
  t.true((await first.metric("controller_runtime_reconcile_total")) > 0);
  t.false(second.output().includes("became leader"));
  t.deepEqual(await first.http("/healthz"), { status: 200, text: "ok (leader)\n" });
  t.deepEqual(await second.http("/healthz"), { status: 200, text: "ok (standby)\n" });
  t.regex((await first.http("/metrics")).text, /herald_operator_leader 1/);
  t.regex((await second.http("/metrics")).text, /herald_operator_leader 0/);
  const events = (await cluster.get("/api/v1/namespaces/default/events")) as unknown as {
    items: { reportingInstance: string }[];
  };
  t.true(events.items.length > 0);
  t.deepEqual([...new Set(events.items.map((e) => e.reportingInstance))], ["op-a"]);

  // The leader dies without releasing the lease: the standby takes over once it expires.
  await first.kill("SIGKILL");
  const lastRenew = Date.parse(((await cluster.get(LEASE))!.spec as { renewTime: string }).renewTime);
  await waitFor("op-b to take over", () => second.output().includes("became leader"), 30_000);
  const taken = (await cluster.get(LEASE))!.spec as {
    holderIdentity: string;
    leaseTransitions: number;
    acquireTime: string;
    leaseDurationSeconds: number;
  };
  t.is(taken.holderIdentity, "op-b");
  t.is(taken.leaseTransitions, lease.leaseTransitions + 1);
  // Read from the Lease's own record, not a stopwatch: the standby acquired it at the first expiry
  // (after the lease duration, polling every retry period), not at some later resync. The bound of
  // twice the lease leaves room for a loaded machine's scheduling.
  const takeOverMs = Date.parse(taken.acquireTime) - lastRenew;
  t.log(
    `took over ${takeOverMs} ms after the dead leader's last renewal (lease ${taken.leaseDurationSeconds} s)`,
  );
  t.true(
    takeOverMs >= taken.leaseDurationSeconds * 1000 && takeOverMs < 2 * taken.leaseDurationSeconds * 1000,
    `took over ${takeOverMs} ms after the last renewal`,
  );
  await apply(cluster, "news", {
    nats: { url: nats.url },
    stream: { replicas: 1 },
    edge: { image: "herald/edge:2" },
  });
  await waitFor(
    "the new leader to reconcile",
    async () => image(await cluster.get(`${DEPLOYMENTS}/news-edge`)) === "herald/edge:2",
  );

  // SIGTERM releases the lease so that a successor need not wait for it to expire.
  await second.kill("SIGTERM");
  t.regex(second.output(), /released lease default\/herald-operator/);
  t.is(((await cluster.get(LEASE))!.spec as { holderIdentity: string }).holderIdentity, "");
});

test("NATS unreachable: StreamReady turns False (NatsUnavailable), and the change lands once NATS is back", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  await cluster.startOperator("op-1");
  await apply(cluster, "news", { nats: { url: nats.url }, stream: { replicas: 1 } });
  await waitFor("the stream", () => streamInfo(nats.url, "herald_default_news"));

  await nats.stop();
  await apply(cluster, "news", { nats: { url: nats.url }, stream: { replicas: 1, maxMsgsPerTopic: 77 } });
  const { resource: down } = await waitForCondition(cluster, "news", "StreamReady", {
    reason: "NatsUnavailable",
  });
  t.is(condition(down, "Ready")?.status, "False");
  t.is(condition(down, "StreamReady")?.observedGeneration, 2);

  await nats.restart();
  await waitForCondition(cluster, "news", "StreamReady", { status: "True" }, 90_000);
  t.is((await streamInfo(nats.url, "herald_default_news"))?.config.max_msgs_per_subject, 77);
  const events = (await cluster.get("/api/v1/namespaces/default/events")) as unknown as {
    items: { reason: string; type: string }[];
  };
  t.true(events.items.some((e) => e.reason === "NatsUnavailable" && e.type === "Warning"));
  t.true(events.items.some((e) => e.reason === "StreamUpdated"));
});

test("/healthz fails while the leader is stuck (watches failing, or a reconcile hanging on the API server) and recovers", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  // A long lease: the leader keeps leading through the outages below (its renew deadline is 40 s).
  const operator = await cluster.startOperator("op-1", {
    HERALD_OPERATOR_LEASE_SECONDS: "60",
    HERALD_OPERATOR_STUCK_SECONDS: "2",
    HERALD_OPERATOR_RESYNC_SECONDS: "1",
  });
  await waitFor("op-1 to lead", () => operator.output().includes("became leader"));
  await apply(cluster, "news", {
    nats: { url: nats.url },
    stream: { replicas: 1 },
    auth: { allowAnonymous: true },
  });
  await waitFor("the status", async () => (await cluster.get(`${NS_PATH}/news`))?.status);
  t.deepEqual(await operator.http("/healthz"), { status: 200, text: "ok (leader)\n" });

  // Down: the watches end and cannot be re-established.
  await cluster.api.stop();
  const down = await waitFor("/healthz to fail", async () => {
    const health = await operator.http("/healthz");
    return health.status === 503 && health;
  });
  t.regex(down.text, /^stuck: \S+: no successful list or watch for \d+ s\n$/);
  await cluster.api.restart();
  await waitFor("/healthz to recover", async () => (await operator.http("/healthz")).status === 200);

  // Hung: requests are accepted and never answered; the watches stay open, the resync's reconcile hangs.
  cluster.api.stall(true);
  const hung = await waitFor("/healthz to fail", async () => {
    const health = await operator.http("/healthz");
    return health.status === 503 && health;
  });
  t.regex(hung.text, /^stuck: reconcile of default\/news running for \d+ s\n$/);
  cluster.api.stall(false);
  await waitFor("/healthz to recover", async () => (await operator.http("/healthz")).status === 200);
  t.deepEqual(await operator.http("/healthz"), { status: 200, text: "ok (leader)\n" });
});
