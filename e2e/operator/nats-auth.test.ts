// NATS with TLS (a private CA, client certificates verified) and user/password authentication:
// the operator reaches JetStream with what the referenced Secrets hold, and an edge started with
// exactly what the operator rendered (ConfigMap, secret env, Secret volumes mounted as the kubelet
// would) connects the same way and serves on the operator's stream.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { jetstreamManager } from "@nats-io/jetstream";
import { nkeys } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { spawnEdge } from "../harness/edge-process.js";
import { freePort } from "../harness/free-port.js";
import type { KubeObject } from "../fake-apiserver/store.js";
import {
  applyResource,
  createSecret,
  DEPLOYMENTS,
  startCluster,
  waitFor,
  waitForCondition,
  type Cluster,
} from "./harness.js";

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
function certificates(dir: string) {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=herald-test-ca",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
  );
  const issue = (name: string, subject: string, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      subject,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
    );
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.crt`,
    );
  };
  issue("server", "/CN=nats", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  issue("client", "/CN=herald", "extendedKeyUsage=clientAuth\n");
  const read = (file: string) => readFileSync(join(dir, file), "utf8");
  return { ca: read("ca.crt"), clientCert: read("client.crt"), clientKey: read("client.key") };
}

test("NATS with TLS (client certificates verified), user/password or nkey, and a JetStream domain: the operator and the rendered edge both get in", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "herald-nats-tls-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pem = certificates(dir);
  const port = await freePort();
  const nkeyUser = nkeys.createUser();
  writeFileSync(
    join(dir, "nats.conf"),
    [
      `server_name: tls1`,
      `listen: 127.0.0.1:${port}`,
      `jetstream { store_dir: ${JSON.stringify(join(dir, "store"))}, domain: hub }`,
      `tls { cert_file: "server.crt", key_file: "server.key", ca_file: "ca.crt", verify: true, timeout: 5 }`,
      `authorization { users: [ { user: herald, password: "s3cret-pass" }, { nkey: ${nkeyUser.getPublicKey()} } ] }`,
    ].join("\n"),
  );
  const nats = spawn("nats-server", ["-c", join(dir, "nats.conf")], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.teardown(() => nats.kill("SIGKILL"));
  let natsLog = "";
  nats.stderr.on("data", (chunk: Buffer) => (natsLog += chunk.toString()));
  await waitFor("nats-server with TLS", () => natsLog.includes("Server is ready"), 30_000);
  const url = `tls://127.0.0.1:${port}`;
  const access = {
    servers: url,
    user: "herald",
    pass: "s3cret-pass",
    tls: { ca: pem.ca, cert: pem.clientCert, key: pem.clientKey },
  };

  const cluster = await startCluster(t);
  await cluster.startOperator("op-tls");
  await createSecret(cluster, "nats-user", { username: "herald", password: "s3cret-pass" });
  await createSecret(cluster, "nats-ca", { "ca.crt": pem.ca });
  await createSecret(cluster, "nats-client", { "tls.crt": pem.clientCert, "tls.key": pem.clientKey });
  await createSecret(cluster, "herald-keys", { keys: "publisher-key" });
  await applyResource(cluster, "secure", {
    nats: {
      url,
      userPasswordSecret: { name: "nats-user" },
      tls: { caSecret: { name: "nats-ca" }, clientCertSecret: { name: "nats-client" } },
      jetstreamDomain: "hub",
    },
    stream: { replicas: 1 },
    auth: { apiKeysSecret: { name: "herald-keys", key: "keys" } },
  });
  // A second resource authenticates with an nkey seed instead.
  await createSecret(cluster, "nats-nkey", { seed: new TextDecoder().decode(nkeyUser.getSeed()) });
  await applyResource(cluster, "nkey", {
    nats: {
      url,
      nkeySecret: { name: "nats-nkey", key: "seed" },
      tls: { caSecret: { name: "nats-ca" }, clientCertSecret: { name: "nats-client" } },
    },
    stream: { replicas: 1 },
    auth: { apiKeysSecret: { name: "herald-keys", key: "keys" } },
  });
  // Through TLS and user/password (the timeout names the condition last seen).
  const { condition: ready } = await waitForCondition(cluster, "secure", "StreamReady", { status: "True" });
  t.regex(ready.message, /stream herald_default_secure ready/);
  await waitForCondition(cluster, "nkey", "StreamReady", { status: "True" });

  const env = await podEnvironment(cluster, "secure-edge", join(dir, "mounts"));
  t.is(env.HERALD_NATS_USER, "herald");
  t.regex(env.HERALD_NATS_TLS_CA!, /ca\.crt$/);
  t.is(env.HERALD_JETSTREAM_DOMAIN, "hub");
  const edge = await spawnEdge(t, { ...env, HERALD_HOST: "127.0.0.1" }); // waits for /readyz
  const published = await fetch(`${edge.url}/v1/publish`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer publisher-key" },
    body: JSON.stringify({ topic: "secure.first", data: { over: "tls" } }),
  });
  t.is(published.status, 200, await published.clone().text());

  const nc = await connect(access);
  try {
    const info = await (await jetstreamManager(nc, { domain: "hub" })).streams.info("herald_default_secure");
    t.is(info.state.messages, 1, "the edge published into the operator's stream over TLS");
  } finally {
    await nc.close();
  }
});

/**
 * The edge container's environment as the kubelet makes it: the ConfigMap, the env entries (from
 * Secrets), and every Secret volume written as files under `root` (paths rewritten to match).
 */
async function podEnvironment(
  cluster: Cluster,
  deploymentName: string,
  root: string,
): Promise<Record<string, string>> {
  type Pod = {
    volumes: { name: string; secret?: { secretName: string; items: { key: string; path: string }[] } }[];
    containers: {
      envFrom: { configMapRef: { name: string } }[];
      env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
      volumeMounts: { name: string; mountPath: string }[];
    }[];
  };
  const deployment = (await cluster.get(`${DEPLOYMENTS}/${deploymentName}`)) as KubeObject & {
    spec: { template: { spec: Pod } };
  };
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0]!;
  const secretData = async (name: string) =>
    (
      (await cluster.get(`/api/v1/namespaces/default/secrets/${name}`)) as KubeObject & {
        data: Record<string, string>;
      }
    ).data;
  const mounted = new Map<string, string>();
  for (const mount of container.volumeMounts) {
    const volume = pod.volumes.find((v) => v.name === mount.name);
    if (!volume?.secret) continue;
    const target = join(root, mount.mountPath);
    mkdirSync(target, { recursive: true });
    const data = await secretData(volume.secret.secretName);
    for (const item of volume.secret.items)
      writeFileSync(join(target, item.path), Buffer.from(data[item.key]!, "base64"));
    mounted.set(mount.mountPath, target);
  }
  const remap = (value: string) => {
    for (const [path, target] of mounted)
      if (value.startsWith(`${path}/`)) return target + value.slice(path.length);
    return value;
  };
  const env: Record<string, string> = {};
  for (const { configMapRef } of container.envFrom) {
    const configMap = (await cluster.get(
      `/api/v1/namespaces/default/configmaps/${configMapRef.name}`,
    )) as KubeObject & {
      data: Record<string, string>;
    };
    for (const [name, value] of Object.entries(configMap.data)) env[name] = remap(value);
  }
  for (const variable of container.env) {
    if (variable.value !== undefined) env[variable.name] = remap(variable.value);
    else {
      const ref = variable.valueFrom!.secretKeyRef;
      env[variable.name] = Buffer.from((await secretData(ref.name))[ref.key]!, "base64").toString("utf8");
    }
  }
  delete env.HERALD_PORT; // the pod's ports; the harness picks free ones on 127.0.0.1
  delete env.HERALD_METRICS_PORT;
  return env;
}
