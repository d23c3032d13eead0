// What a pod would run: a real edge process started with exactly the environment the operator
// rendered (ConfigMap + Secret references resolved as the kubelet would), against the stream the
// operator created. The edge must accept that configuration and serve on that stream.
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import test from "ava";
import { spawnEdge } from "../harness/edge-process.js";
import { startNats } from "../harness/nats-server.js";
import { TestClient } from "../harness/ws-client.js";
import { edgeEnvironment } from "../../operator/render.js";
import { parseSpec, type NotificationService } from "../../operator/spec.js";
import { DEPLOYMENTS, notificationService, startCluster, streamInfo, waitFor } from "./harness.js";
import type { KubeObject } from "../fake-apiserver/store.js";

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}
type Deployment = KubeObject & {
  spec: {
    template: { spec: { containers: { env: EnvVar[]; envFrom: { configMapRef: { name: string } }[] }[] } };
  };
};

test("an edge started with the rendered environment serves on the operator's stream", async (t) => {
  const nats = await startNats(t);
  const cluster = await startCluster(t);
  await cluster.startOperator("op-1");
  const jwtSecret = "s".repeat(40);
  const secret = (name: string, key: string, value: string) =>
    JSON.stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: "default" },
      data: { [key]: Buffer.from(value).toString("base64") },
    });
  writeFileSync(join(cluster.dir, "jwt.json"), secret("herald-jwt", "secret", jwtSecret));
  writeFileSync(
    join(cluster.dir, "keys.json"),
    secret("herald-keys", "keys", "publisher-key-1,publisher-key-2"),
  );
  await cluster.kubectl("apply", "-f", join(cluster.dir, "jwt.json"));
  await cluster.kubectl("apply", "-f", join(cluster.dir, "keys.json"));
  writeFileSync(
    join(cluster.dir, "ns.json"),
    notificationService("pod", {
      nats: { url: nats.url },
      stream: { replicas: 1, maxAge: "1h" },
      auth: {
        jwtSecret: { name: "herald-jwt", key: "secret" },
        apiKeysSecret: { name: "herald-keys", key: "keys" },
      },
    }),
  );
  await cluster.kubectl("apply", "-f", join(cluster.dir, "ns.json"));
  await waitFor("the stream", () => streamInfo(nats.url, "herald_default_pod"));

  // Resolve the container's environment the way the kubelet does.
  const deployment = (await waitFor("the Deployment", () =>
    cluster.get(`${DEPLOYMENTS}/pod-edge`),
  )) as Deployment;
  const container = deployment.spec.template.spec.containers[0]!;
  const env: Record<string, string> = {};
  for (const { configMapRef } of container.envFrom) {
    const configMap = (await cluster.get(
      `/api/v1/namespaces/default/configmaps/${configMapRef.name}`,
    )) as KubeObject & { data: Record<string, string> };
    Object.assign(env, configMap.data);
  }
  for (const variable of container.env) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else {
      const ref = variable.valueFrom!.secretKeyRef;
      const stored = (await cluster.get(`/api/v1/namespaces/default/secrets/${ref.name}`)) as KubeObject & {
        data: Record<string, string>;
      };
      env[variable.name] = Buffer.from(stored.data[ref.key]!, "base64").toString("utf8");
    }
  }
  t.is(env.HERALD_JWT_SECRET, jwtSecret);

  t.is(env.HERALD_HOST, "::", "dual-stack: the edge listens on IPv6 and IPv4");
  t.is(env.HERALD_PORT, "8080");
  delete env.HERALD_PORT; // the pod's port; here the harness picks a free one on 127.0.0.1
  const edge = await spawnEdge(t, env); // waits for /readyz
  const publish = (key: string) =>
    fetch(`${edge.url}/v1/publish`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ topic: "news.first", data: { hello: "kubernetes" } }),
    });
  const accepted = await publish("publisher-key-2");
  t.is(accepted.status, 200, await accepted.clone().text());
  t.like(await accepted.json(), { dup: false });
  t.is((await publish("not-a-key")).status, 401);
  // The publishes above went to 127.0.0.1 (IPv4); an IPv6 client gets in too, where the host has IPv6.
  if (await hasIpv6Loopback()) t.is((await fetch(`http://[::1]:${edge.port}/readyz`)).status, 200);
  const stream = await streamInfo(nats.url, "herald_default_pod");
  t.is(stream?.state.messages, 1, "the message is in the operator's stream");
});

/** Whether this machine can listen on ::1 (IPv6 loopback). */
function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen({ port: 0, host: "::1" }, () => probe.close(() => resolve(true)));
  });
}

test("an edge started with the rendered rollout settings drains at drainRate connections per second, within the window", async (t) => {
  const nats = await startNats(t);
  // 20 connections at 10 per second: about 2 s, far less than the 30 s window (without a rate the
  // closes would be spread over all of it).
  const ns = {
    apiVersion: "herald.dev/v1alpha1",
    kind: "NotificationService",
    metadata: { name: "drain", namespace: "default", uid: "u-drain" },
    spec: parseSpec({
      nats: { url: nats.url },
      stream: { replicas: 1 },
      edge: { drainSeconds: 30, rollout: { drainRate: 10 } },
      auth: { allowAnonymous: true },
    }),
  } as NotificationService;
  const { configData } = edgeEnvironment(ns, ns.spec);
  t.is(configData.HERALD_DRAIN_RATE, "10");
  t.is(configData.HERALD_DRAIN_SECONDS, "30");
  const { HERALD_PORT: _port, HERALD_METRICS_PORT: _metrics, ...env } = configData;
  const edge = await spawnEdge(t, env);
  const clients = await Promise.all(Array.from({ length: 20 }, () => TestClient.ready(edge.wsUrl)));
  t.teardown(() => clients.forEach((c) => c.close()));
  const closedAt = clients.map(
    (c) => new Promise<number>((resolve) => c.ws.once("close", () => resolve(performance.now()))),
  );
  const started = performance.now();
  edge.kill("SIGTERM");
  const times = (await Promise.all(closedAt)).map((at) => at - started);
  const first = Math.min(...times);
  const last = Math.max(...times);
  t.true(
    last - first >= 1000,
    `spread over about 2 s, not at once: ${first.toFixed(0)}-${last.toFixed(0)} ms`,
  );
  t.true(last < 15_000, `done at the rate, long before the 30 s window: ${last.toFixed(0)} ms`);
  t.is(await edge.exited, 0);
});
