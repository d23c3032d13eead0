// The durable log unreachable (nats-server stopped under a JetStream edge): the edge turns unready,
// refuses what needs the log with `unavailable` (HTTP 503 + Retry-After, err frames over
// WebSocket) and keeps its connections; when NATS is back it is ready again and nothing is lost.
import test from "ava";
import { startNats } from "../harness/nats-server.js";
import { startTestEdge } from "../harness/test-edge.js";
import { waitFor } from "../harness/wait.js";
import { chainProblem, TestClient } from "../harness/ws-client.js";
import { postPublish } from "../harness/http.js";

const publish = (url: string, data: unknown) => postPublish(url, { topic: "out.a", data });

test("NATS down: unready, 503 with Retry-After and err unavailable; back up: ready, nothing lost", async (t) => {
  const nats = await startNats(t);
  const edge = await startTestEdge(t, {
    HERALD_NATS_URL: nats.url,
    HERALD_ALLOW_ANONYMOUS: "true",
    HERALD_ANONYMOUS_PUBLISH: "true",
  });
  const client = await TestClient.ready(edge.wsUrl);
  t.teardown(() => client.close());
  await client.subscribe("out.a");
  t.is((await publish(edge.url, 1)).status, 200);
  await client.waitForMessages("out.a", 1);

  await nats.stop();
  const readyz = await waitFor("/readyz to fail", async () => {
    const response = await fetch(`${edge.url}/readyz`);
    return response.status === 503
      ? ((await response.json()) as { error: { code: string; message: string } })
      : undefined;
  });
  t.is(readyz.error.code, "unavailable");
  t.regex(readyz.error.message, /^backend (unavailable|connecting): ./);

  const refused = await publish(edge.url, 2);
  t.is(refused.status, 503);
  t.truthy(refused.headers.get("retry-after"));
  const body = refused.body as { error: { code: string; message: string } };
  t.is(body.error.code, "unavailable");
  t.regex(body.error.message, /^JetStream unavailable: ./);
  const reply = await client.request({ op: "pub", topic: "out.a", data: 3, id: "p" }, 60_000);
  t.like(reply, { op: "err", id: "p", code: "unavailable" });
  t.regex(reply.op === "err" ? reply.message : "", /^JetStream unavailable: ./);
  t.like(await client.request({ op: "sub", topic: "out.b", id: "s" }, 60_000), {
    op: "err",
    id: "s",
    code: "unavailable",
  });
  t.is(client.closed, undefined, "connections stay open while the log is away");

  await nats.restart();
  await waitFor("/readyz to pass", async () => (await fetch(`${edge.url}/readyz`)).status === 200);
  t.is((await publish(edge.url, 4)).status, 200);
  const messages = await client.waitForMessages("out.a", 2, 60_000);
  t.deepEqual(
    messages.map((m) => m.data),
    [1, 4],
  );
  t.is(chainProblem(messages, 0), undefined);
});
