// One row of the hostile-input table: a name, what it does to the edge, and exactly what the edge
// must answer (an err frame, a close code and reason, an HTTP status and body, a dropped socket).
// The helpers below are the few ways a row reaches the edge.
import type { EdgeFrame } from "../../protocol/index.js";
import type { EdgeProcess } from "../harness/edge-process.js";
import { TestClient, UpgradeRefused } from "../harness/ws-client.js";
import type { HostileKeys } from "./hostile-tokens.js";
import {
  encodeFrame,
  parseResponse,
  RawConnection,
  RawWebSocket,
  upgradeRequest,
  type FrameSpec,
  type Owner,
  type UpgradeRequest,
} from "./raw-socket.js";

export interface HostileContext {
  /** Closes what the current row opened, once the row is done. */
  readonly scope: Owner;
  readonly edge: EdgeProcess;
  readonly keys: HostileKeys;
  /** A token with every subscribe right and publish rights on hostile.>. */
  readonly token: string;
  /** An authenticated connection shared by the rows answered with err frames (they keep it open). */
  readonly shared: TestClient;
  readonly apiKey: string;
}

export interface Row {
  readonly name: string;
  run(ctx: HostileContext): Promise<unknown>;
  readonly expect: unknown;
}

export const row = (name: string, expect: unknown, run: (ctx: HostileContext) => Promise<unknown>): Row => ({
  name,
  expect,
  run,
});

/** A frame on the shared connection, answered by the next err frame. */
export function errRow(
  name: string,
  frame: string | object,
  expect: { id?: string | number; code: string; message: string },
): Row {
  return row(name, { op: "err", ...expect }, async ({ shared }) => {
    const before = shared.frames.filter((f) => f.op === "err").length;
    shared.send(frame);
    return shared.until(() => shared.frames.filter((f) => f.op === "err")[before], name);
  });
}

/** Frames (text, or Buffers sent as binary) on a fresh authenticated connection, which the edge closes. */
export function closeRow(
  name: string,
  frames: (string | Buffer)[],
  expect: { code: number; reason: string },
): Row {
  return row(name, expect, async (ctx) => {
    const client = await openClient(ctx);
    for (const frame of frames) client.ws.send(frame);
    return client.waitForClose();
  });
}

/** Hand-built WebSocket frames, written at once on a fresh authenticated raw connection. */
export function rawRow(
  name: string,
  frames: FrameSpec[],
  expect: { code: number; reason: string } | "no close frame",
): Row {
  return row(name, expect, async (ctx) => {
    const ws = await RawWebSocket.open(ctx.scope, ctx.edge.port, ctx.token);
    ws.connection.write(Buffer.concat(frames.map(encodeFrame)));
    return ws.waitForClose();
  });
}

/** A hand-written upgrade request; the edge's HTTP answer. */
export function upgradeRow(
  name: string,
  request: UpgradeRequest,
  expect: { status: number; body: unknown },
): Row {
  return row(name, expect, async (ctx) => {
    const connection = await RawConnection.open(ctx.scope, ctx.edge.port);
    connection.write(upgradeRequest(ctx.edge.port, request));
    const response = await connection.waitForResponse();
    connection.destroy();
    return { status: response.status, body: bodyOf(response.body, response.headers["content-type"]) };
  });
}

/** An HTTP request; the status and body. */
export function httpRow(
  name: string,
  path: string,
  init: RequestInit | ((ctx: HostileContext) => RequestInit),
  expect: { status: number; body: unknown },
): Row {
  return row(name, expect, async (ctx) => {
    const response = await fetch(ctx.edge.url + path, typeof init === "function" ? init(ctx) : init);
    return {
      status: response.status,
      body: bodyOf(await response.text(), response.headers.get("content-type") ?? undefined),
    };
  });
}

export function postJson(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
}

export const errorBody = (code: string, message: string) => ({ error: { code, message } });

/** Opens a connection with `token` on the upgrade (default: the rows' token; null: none), closed when the row is done. */
export async function openClient(ctx: HostileContext, token: string | null = ctx.token): Promise<TestClient> {
  const client = await TestClient.ready(ctx.edge.wsUrl, token === null ? {} : { token });
  ctx.scope.teardown(() => client.close());
  return client;
}

/** Opens a connection with `token` on the upgrade; the close the edge answers with. */
export async function closeOfToken(ctx: HostileContext, token: string): Promise<unknown> {
  try {
    const client = await openClient(ctx, token);
    return await client.waitForClose();
  } catch (error) {
    if (error instanceof UpgradeRefused) return { status: error.status, body: error.body };
    throw error;
  }
}

/** The first reply frame carrying `id` (ack, err or subok). */
export function replyTo(client: TestClient, id: string | number): Promise<EdgeFrame> {
  return client.waitFor(
    (f) => (f.op === "ack" || f.op === "err" || f.op === "subok") && f.id === id,
    `reply ${id}`,
  );
}

/** An ack with its seq replaced by whether it has one: seqs depend on what else was published. */
/** The `data` of every msg frame on `topic` exactly as it went over the wire, before any client-side parsing. */
export function rawDataOn(client: TestClient, topic: string): string[] {
  const prefix = `{"op":"msg","topic":${JSON.stringify(topic)},`;
  return client.rawFrames
    .flatMap((text) => text.split("\n"))
    .filter((line) => line.startsWith(prefix))
    .map((line) => line.slice(line.indexOf('"data":') + '"data":'.length, line.lastIndexOf(',"ts":')));
}

export function withSeqChecked(frame: EdgeFrame): object {
  const { seq, ...rest } = frame as EdgeFrame & { seq?: unknown };
  return { ...rest, hasSeq: typeof seq === "number" };
}

/** What the edge sent before closing, as one HTTP response: status and body (parsed when JSON), or the raw text. */
export function answerBeforeClose(bytes: Buffer): { status: number; body: unknown } | string {
  const response = parseResponse(bytes, true);
  return response
    ? { status: response.status, body: bodyOf(response.body, response.headers["content-type"]) }
    : bytes.toString();
}

function bodyOf(text: string, contentType: string | undefined): unknown {
  return contentType?.startsWith("application/json") ? JSON.parse(text) : text;
}
