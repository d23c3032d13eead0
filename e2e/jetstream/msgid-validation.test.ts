// msgIds are validated alike on both backends: 1 to 128 printable ASCII characters
// other than space (protocol/msg-id.ts), refused with a 400 over HTTP and an `err` frame over the
// WebSocket before anything is stored. Before, a CR or LF in a msgId made every JetStream publish
// of it a 503 (so publishers retried forever), a batch holding one was stored up to it and again
// on each retry, and JetStream trimmed spaces the embedded log kept.
import test from "ava";
import type { EdgeFrame } from "../../protocol/index.js";
import { startNats } from "../harness/nats-server.js";
import { startTestEdge } from "../harness/test-edge.js";
import { TestClient } from "../harness/ws-client.js";
import { TEST_API_KEY as API_KEY } from "../harness/tokens.js";
import { probe, spawnNatsEdge } from "./fault-kit.js";

const BAD = ["line\r\nbreak", "new\nline", "two words", " padded ", "café", "tab\there", "x".repeat(129)];

const edges = [
  [
    "embedded",
    async (t: Parameters<typeof startTestEdge>[0]) =>
      startTestEdge(t, { HERALD_API_KEYS: API_KEY, HERALD_ANONYMOUS_PUBLISH: "true" }),
  ],
  [
    "jetstream",
    async (t: Parameters<typeof startTestEdge>[0]) =>
      spawnNatsEdge(t, (await startNats(t)).url, {
        HERALD_API_KEYS: API_KEY,
        HERALD_ANONYMOUS_PUBLISH: "true",
      }),
  ],
] as const;

const publish = (url: string, body: unknown) =>
  probe(url, "/v1/publish", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify(body),
  });

for (const [kind, start] of edges) {
  test(`${kind}: a msgId with CR, LF, spaces, control or non-ASCII characters is refused with 400 / err invalid_frame, and a batch holding one stores nothing`, async (t) => {
    const edge = await start(t);
    for (const msgId of BAD) {
      const single = await publish(edge.url, { topic: "ids.t", data: 1, msgId });
      t.is(single.status, 400, JSON.stringify(msgId));
      t.like(single.body, { error: { code: "bad_request" } });
    }
    const batch = await publish(edge.url, [
      { topic: "ids.t", data: "first", msgId: "fine-1" },
      { topic: "ids.t", data: "second", msgId: "bad\r\nid" },
      { topic: "ids.t", data: "third" },
    ]);
    t.is(batch.status, 400);
    t.regex((batch.body as { error: { message: string } }).error.message, /^message 1: msgId /);
    const history = await probe(edge.url, "/v1/topics/ids.t/messages?after=0", {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    t.deepEqual((history.body as { messages: unknown[] }).messages, [], "nothing of the batch was stored");

    const client = await TestClient.ready(edge.wsUrl);
    t.teardown(() => client.close());
    for (const [i, msgId] of BAD.entries()) {
      const reply: EdgeFrame = await client.request({ op: "pub", topic: "ids.t", data: i, id: i, msgId });
      t.like(reply, { op: "err", id: i, code: "invalid_frame" });
    }
    // The edge is healthy: the same messages with valid msgIds are stored, once each.
    t.like(await publish(edge.url, { topic: "ids.t", data: 1, msgId: "fine-1" }), {
      status: 200,
      body: { dup: false },
    });
    t.like(await publish(edge.url, { topic: "ids.t", data: 1, msgId: "fine-1" }), {
      status: 200,
      body: { dup: true },
    });
    t.like(
      await client.request({
        op: "pub",
        topic: "ids.t",
        data: 2,
        id: "ok",
        msgId: "~!#$%&'()*+,-./:;<=>?@[]^_`{|}",
      }),
      {
        op: "ack",
        dup: false,
      },
    );
  });
}
