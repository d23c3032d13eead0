// Raw TCP access to an edge, for hostile input no well-behaved client can produce: hand-written
// HTTP requests (partial, oversized, smuggling), and WebSocket frames built byte by byte (invalid
// UTF-8, reserved bits, unmasked or oversized frames, fragments that never end, ping floods).
// Every socket opened here is destroyed by its owner (the row that opened it).
import { connect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { SUBPROTOCOL, WS_PATH } from "../../protocol/index.js";

const DEFAULT_TIMEOUT_MS = 30_000;

/** Whoever closes what a row opened: the row's scope (or a test's ExecutionContext). */
export interface Owner {
  teardown(fn: () => void): void;
}

export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Buffer | string;
  /** Default true. */
  readonly fin?: boolean;
  /** Reserved bits (RSV1..3) as a 3-bit number; default 0. */
  readonly rsv?: number;
  /** Clients must mask; default true. */
  readonly mask?: boolean;
  /** Claimed payload length when it should differ from the real one (e.g. a 2^53 length header). */
  readonly declaredLength?: number;
}

/** Encodes one WebSocket frame (RFC 6455 §5.2). */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === "string" ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const length = spec.declaredLength ?? payload.length;
  const mask = spec.mask ?? true;
  const first = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode;
  let header: Buffer;
  if (length < 126) {
    header = Buffer.from([first, (mask ? 0x80 : 0) | length]);
  } else if (length < 65536) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = (mask ? 0x80 : 0) | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = (mask ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  if (!mask) return Buffer.concat([header, payload]);
  const key = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] = masked[i]! ^ key[i % 4]!;
  return Buffer.concat([header, key, masked]);
}

export interface ServerFrame {
  readonly opcode: number;
  readonly payload: Buffer;
}

/** A raw TCP connection that records everything the edge sends and when it closed. */
export class RawConnection {
  received = Buffer.alloc(0);
  ended = false;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.wake();
    });
    socket.on("close", () => {
      this.ended = true;
      this.wake();
    });
    // Resets by the edge are expected for several rows; the close event tells the story.
    socket.on("error", () => undefined);
  }

  /** Connects to the edge from `localAddress` (any 127.0.0.0/8 address on Linux), by default 127.0.0.1. */
  static open(owner: Owner, port: number, localAddress?: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port, ...(localAddress ? { localAddress } : {}) });
      owner.teardown(() => void socket.destroy());
      socket.once("connect", () => resolve(new RawConnection(socket)));
      socket.once("error", reject);
    });
  }

  write(data: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Text of what arrived so far (HTTP responses). */
  text(): string {
    return this.received.toString("latin1");
  }

  until<T>(check: () => T | undefined, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const value = check();
        if (value === undefined) return;
        finish();
        resolve(value);
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; received ${JSON.stringify(this.text().slice(0, 300))}`,
          ),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(attempt);
      };
      this.waiters.add(attempt);
      attempt();
    });
  }

  /** Resolves when the edge closed the TCP connection; with what it had sent. */
  waitForEnd(timeoutMs?: number): Promise<string> {
    return this.until(
      () => (this.ended ? this.text() : undefined),
      "the edge to close the connection",
      timeoutMs,
    );
  }

  /** Resolves with the HTTP response once its head (and Content-Length body) arrived. */
  waitForResponse(timeoutMs?: number): Promise<HttpResponse> {
    return this.until(() => parseResponse(this.received, this.ended), "an HTTP response", timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** Bytes after the response (WebSocket frames after a 101). */
  readonly rest: Buffer;
}

export function parseResponse(bytes: Buffer, ended: boolean): HttpResponse | undefined {
  const headEnd = bytes.indexOf("\r\n\r\n");
  if (headEnd < 0) return undefined;
  const [statusLine, ...lines] = bytes.subarray(0, headEnd).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? "")?.[1]);
  const headers = Object.fromEntries(
    lines.map((line) => [
      line.slice(0, line.indexOf(":")).toLowerCase(),
      line.slice(line.indexOf(":") + 1).trim(),
    ]),
  );
  const bodyStart = headEnd + 4;
  if (status === 101) return { status, headers, body: "", rest: bytes.subarray(bodyStart) };
  const length = headers["content-length"] === undefined ? undefined : Number(headers["content-length"]);
  if (length === undefined && !ended) return undefined;
  const bodyEnd = length === undefined ? bytes.length : bodyStart + length;
  if (bytes.length < bodyEnd) return undefined;
  return {
    status,
    headers,
    body: bytes.subarray(bodyStart, bodyEnd).toString("utf8"),
    rest: bytes.subarray(bodyEnd),
  };
}

export interface UpgradeRequest {
  readonly path?: string;
  readonly method?: string;
  /** Replaces the default headers of the same name; null leaves one out. */
  readonly headers?: Record<string, string | null>;
}

/** The text of a WebSocket upgrade request for herald.v1. */
export function upgradeRequest(port: number, request: UpgradeRequest = {}): string {
  const headers: Record<string, string | null> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Protocol": SUBPROTOCOL,
    ...request.headers,
  };
  const lines = Object.entries(headers).flatMap(([name, value]) =>
    value === null ? [] : [`${name}: ${value}`],
  );
  return `${request.method ?? "GET"} ${request.path ?? WS_PATH} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`;
}

/** A WebSocket over a raw socket: upgraded by hand, frames written and parsed byte by byte. */
export class RawWebSocket {
  private constructor(
    readonly connection: RawConnection,
    private readonly frameStart: number,
  ) {}

  /** Upgrades (with `?token=` when given) and waits for the 101 and the welcome frame. */
  static async open(owner: Owner, port: number, token?: string): Promise<RawWebSocket> {
    const connection = await RawConnection.open(owner, port);
    const path = token === undefined ? WS_PATH : `${WS_PATH}?token=${encodeURIComponent(token)}`;
    connection.write(upgradeRequest(port, { path }));
    const response = await connection.waitForResponse();
    if (response.status !== 101) throw new Error(`upgrade refused with ${response.status}: ${response.body}`);
    const ws = new RawWebSocket(connection, connection.received.length - response.rest.length);
    await connection.until(
      () => ws.frames().find((f) => f.opcode === Opcode.text && f.payload.toString().includes('"welcome"')),
      "welcome",
    );
    return ws;
  }

  send(spec: FrameSpec): void {
    this.connection.write(encodeFrame(spec));
  }

  /** Frames the edge sent after the upgrade (complete ones only). */
  frames(): ServerFrame[] {
    const frames: ServerFrame[] = [];
    let offset = this.frameStart;
    const bytes = this.connection.received;
    while (offset + 2 <= bytes.length) {
      let length = bytes[offset + 1]! & 0x7f;
      let header = 2;
      if (length === 126) {
        if (offset + 4 > bytes.length) break;
        length = bytes.readUInt16BE(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (offset + 10 > bytes.length) break;
        length = Number(bytes.readBigUInt64BE(offset + 2));
        header = 10;
      }
      if (offset + header + length > bytes.length) break;
      frames.push({
        opcode: bytes[offset]! & 0x0f,
        payload: bytes.subarray(offset + header, offset + header + length),
      });
      offset += header + length;
    }
    return frames;
  }

  /** The edge's close frame (code and reason); "no close frame" when it dropped the TCP connection without one. */
  waitForClose(timeoutMs?: number): Promise<{ code: number; reason: string } | "no close frame"> {
    return this.connection.until(
      () => {
        const close = this.frames().find((f) => f.opcode === Opcode.close);
        if (close)
          return { code: close.payload.readUInt16BE(0), reason: close.payload.subarray(2).toString("utf8") };
        return this.connection.ended ? ("no close frame" as const) : undefined;
      },
      "a close frame or the end of the connection",
      timeoutMs,
    );
  }
}
