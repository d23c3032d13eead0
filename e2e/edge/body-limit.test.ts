// A request body over the limit is answered 413 while the client is still sending it. The answer
// must reach the client: the edge reads the rest and throws it away instead of closing at once
// (a close with unread bytes resets the connection, and clients then report the reset, not the
// 413), within a bound: a body declared far larger is not waited for.
import test from "ava";
import { connect, type Socket } from "node:net";
import { startTestEdge } from "../harness/test-edge.js";
import { TEST_API_KEY, TEST_EDGE_ENV } from "../harness/tokens.js";
import { waitFor } from "../harness/wait.js";

/** The default body limit (16 x the default 64 KiB frame limit, at least 1 MiB). */
const LIMIT = 1024 * 1024;

interface RawConnection {
  readonly socket: Socket;
  /** Everything the edge sent so far. */
  received(): string;
  readonly closed: Promise<void>;
  /** Resolves when the bytes are handed to the kernel; rejects if the connection broke. */
  write(bytes: Buffer | string): Promise<void>;
}

function open(port: number, t: { teardown(fn: () => void): void }): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    let text = "";
    const socket = connect(port, "127.0.0.1");
    t.teardown(() => socket.destroy());
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    socket.on("data", (chunk) => (text += chunk.toString("latin1")));
    socket.once("error", reject);
    socket.once("connect", () =>
      resolve({
        socket,
        received: () => text,
        closed,
        write: (bytes) =>
          new Promise((done, fail) => socket.write(bytes, (err) => (err ? fail(err) : done()))),
      }),
    );
  });
}

const publishHead = (length: number) =>
  `POST /v1/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
  `Authorization: Bearer ${TEST_API_KEY}\r\nContent-Length: ${length}\r\n\r\n`;

const TOO_LARGE = `{"error":{"code":"payload_too_large","message":"request body is over the limit of ${LIMIT} bytes"}}`;

test("a body over the limit gets its 413 while it is still being sent; the rest is read, and the connection serves the next request", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const connection = await open(edge.port, t);
  const length = 2 * LIMIT;
  await connection.write(publishHead(length));
  const chunk = Buffer.alloc(64 * 1024, "x");
  let sent = 0;
  // The answer comes before the body is complete: the edge knows from Content-Length.
  await connection.write(chunk);
  sent += chunk.length;
  await waitFor("the 413", () => connection.received().includes(TOO_LARGE));
  t.regex(connection.received(), /^HTTP\/1\.1 413 /);
  t.notRegex(connection.received(), /connection: close/i);
  // Every remaining byte is accepted (a closed connection would fail these writes).
  while (sent < length) {
    const part = chunk.subarray(0, Math.min(chunk.length, length - sent));
    await connection.write(part);
    sent += part.length;
  }
  const before = connection.received().length;
  await connection.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  await waitFor("the answer to the next request", () =>
    connection.received().slice(before).includes('{"status":"ok"}'),
  );
  t.regex(connection.received().slice(before), /^HTTP\/1\.1 200 /);
});

test("a chunked body that grows over the limit gets its 413 too; the rest is read, and the connection serves the next request", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const connection = await open(edge.port, t);
  await connection.write(publishHead(0).replace("Content-Length: 0", "Transfer-Encoding: chunked"));
  const chunk = Buffer.concat([Buffer.from("10000\r\n"), Buffer.alloc(0x10000, "x"), Buffer.from("\r\n")]);
  for (let sent = 0; sent <= LIMIT; sent += 0x10000) await connection.write(chunk);
  await waitFor("the 413", () => connection.received().includes(TOO_LARGE));
  for (let i = 0; i < 16; i++) await connection.write(chunk);
  await connection.write("0\r\n\r\n");
  const before = connection.received().length;
  await connection.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  await waitFor("the answer to the next request", () =>
    connection.received().slice(before).includes('{"status":"ok"}'),
  );
  t.regex(connection.received(), /^HTTP\/1\.1 413 /);
  t.regex(connection.received().slice(before), /^HTTP\/1\.1 200 /);
});

test("a body declared far over the limit is answered 413 and the connection closed, without waiting for it", async (t) => {
  const edge = await startTestEdge(t, TEST_EDGE_ENV);
  const connection = await open(edge.port, t);
  await connection.write(publishHead(100 * LIMIT));
  await connection.write(Buffer.alloc(1024, "x"));
  await connection.closed;
  t.regex(connection.received(), /^HTTP\/1\.1 413 /);
  t.regex(connection.received(), /connection: close/i);
  t.true(connection.received().endsWith(TOO_LARGE));
});
