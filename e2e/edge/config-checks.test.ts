// Configuration that cannot silently go wrong: an unknown HERALD_* variable stops the edge with a
// "did you mean" hint (a misspelt HERALD_NATS_URL would otherwise start an in-memory edge that
// anyone may publish to), and an edge with no way in says so at start and in every refusal.
import test from "ava";
import { freePort } from "../harness/free-port.js";
import { loadConfig, unknownVariables } from "../../shared/config.js";
import { spawnEdge } from "../harness/edge-process.js";
import { waitFor } from "../harness/wait.js";
import { TestClient } from "../harness/ws-client.js";

test("a misspelt HERALD_* variable stops the edge: one line with the nearest name, exit 1", async (t) => {
  const edge = await spawnEdge(t, { HERALD_NATSURL: "nats://127.0.0.1:4222" }, { waitReady: false });
  t.is(await edge.exited, 1);
  t.is(
    edge.stderr(),
    "herald: HERALD_NATSURL is not a variable the edge knows (did you mean HERALD_NATS_URL?)\n",
  );
});

test("unknown names: a hint when one is near, the list's place otherwise; Kubernetes service links and the operator's settings pass", (t) => {
  t.deepEqual(
    unknownVariables({ HERALD_API_KEY: "k", HERALD_LOGLEVEL: "info", HERALD_COMPLETELY_OTHER: "1" }),
    [
      "HERALD_API_KEY is not a variable the edge knows (did you mean HERALD_API_KEYS?)",
      "HERALD_LOGLEVEL is not a variable the edge knows (did you mean HERALD_LOG_LEVEL?)",
      "HERALD_COMPLETELY_OTHER is not a variable the edge knows (shared/config.ts lists every variable the edge reads)",
    ],
  );
  const passing = {
    HERALD_SERVICE_HOST: "10.0.0.1",
    HERALD_SERVICE_PORT: "8080",
    HERALD_SERVICE_PORT_HTTP: "8080",
    HERALD_PORT_8080_TCP: "tcp://10.0.0.1:8080",
    HERALD_PORT_8080_TCP_ADDR: "10.0.0.1",
    HERALD_EDGE_SERVICE_HOST: "10.0.0.2",
    HERALD_OPERATOR_PORT: "8081",
    PATH: "/usr/bin",
  };
  t.deepEqual(unknownVariables(passing), []);
  t.notThrows(() => loadConfig(passing));
});

test("an edge on NATS with no way in warns at start, and its 401 and 4001 refusals say what it accepts", async (t) => {
  // NATS need not be there: the edge starts (unready) and retries it.
  const nats = `nats://127.0.0.1:${await freePort()}`;
  const edge = await spawnEdge(t, { HERALD_NATS_URL: nats, HERALD_LOG_LEVEL: "info" }, { waitReady: false });
  await waitFor("the no_way_in warning", () => edge.stdout().includes('"no_way_in"'));
  const warning = JSON.parse(
    edge
      .stdout()
      .split("\n")
      .find((line) => line.includes('"no_way_in"'))!,
  ) as {
    level: string;
    detail: string;
  };
  t.is(warning.level, "warn");
  t.regex(warning.detail, /anonymous access is off.*HERALD_JWT_SECRET.*HERALD_API_KEYS/);

  const refused = await fetch(`${edge.url}/v1/publish`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ topic: "a.b", data: 1 }),
  });
  t.is(refused.status, 401);
  t.deepEqual(await refused.json(), {
    error: {
      code: "unauthenticated",
      message:
        "send Authorization: Bearer <API key or JWT>; this edge accepts nothing (no API key and no JWT key configured)",
    },
  });
  const client = await TestClient.connect(edge.wsUrl);
  client.send({ op: "sub", topic: "a.b", id: 1 });
  t.deepEqual(await client.waitForClose(), {
    code: 4001,
    reason:
      "authenticate first: the first frame must be an auth frame; accepted: nothing (no JWT key configured)",
  });
});
