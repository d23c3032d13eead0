// A TCP proxy on loopback whose connections a test can cut and restore: put it between an edge and
// nats-server to simulate a network partition without touching either process. With
// `inspectMessages` it also reads the NATS protocol from the server and can drop chosen messages
// on a connection that stays up (what the server does to a slow consumer's messages).
import { createServer, connect, type Socket } from "node:net";
import { Transform, type TransformCallback } from "node:stream";
import type { Teardown } from "./nats-server.js";
import { listenOnLoopback } from "./free-port.js";

export interface TcpProxy {
  readonly port: number;
  /** `nats://127.0.0.1:<port>` — convenient when the target is a nats-server. */
  readonly url: string;
  /** Destroys every open connection and refuses new ones until restore(). */
  cut(): void;
  /** Accepts connections again. */
  restore(): void;
  /** Connections currently open through the proxy. */
  connections(): number;
  /**
   * Only with `inspectMessages`: from now on, messages (MSG/HMSG) from the server whose subject
   * matches are dropped; undefined stops dropping. Everything else passes unchanged.
   */
  dropMessages(matches: ((subject: string) => boolean) | undefined): void;
  /** Messages dropped so far. */
  dropped(): number;
  /** Bytes the target has sent through the proxy so far (what a client read from a nats-server). */
  bytesFromTarget(): number;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** Parse the server's side of a NATS connection so that dropMessages() works. */
  readonly inspectMessages?: boolean;
}

/**
 * Passes a NATS server's protocol on frame by frame, leaving out the messages `drop` says to. A
 * frame is a control line ending in CRLF; MSG and HMSG lines are followed by a payload whose size
 * is the line's last field, and a CRLF.
 */
class MessageFilter extends Transform {
  private pending = Buffer.alloc(0);

  constructor(private readonly leaveOut: (subject: string) => boolean) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let buffer = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    while (true) {
      const lineEnd = buffer.indexOf("\r\n");
      if (lineEnd < 0) break;
      const line = buffer.subarray(0, lineEnd).toString("latin1");
      let frameEnd = lineEnd + 2;
      let subject: string | undefined;
      if (line.startsWith("MSG ") || line.startsWith("HMSG ")) {
        const fields = line.split(" ");
        frameEnd += Number(fields.at(-1)) + 2;
        subject = fields[1];
      }
      if (buffer.length < frameEnd) break;
      if (subject === undefined || !this.leaveOut(subject)) this.push(buffer.subarray(0, frameEnd));
      buffer = buffer.subarray(frameEnd);
    }
    this.pending = Buffer.from(buffer);
    done();
  }
}

export async function startTcpProxy(
  t: Teardown,
  target: { host?: string; port: number },
  options: TcpProxyOptions = {},
): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let open = true;
  let matches: ((subject: string) => boolean) | undefined;
  let dropped = 0;
  let fromTarget = 0;
  const dropsMessage = (subject: string) => {
    if (!matches?.(subject)) return false;
    dropped++;
    return true;
  };
  const server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: target.host ?? "127.0.0.1", port: target.port });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => (fromTarget += chunk.length));
    if (options.inspectMessages) upstream.pipe(new MessageFilter(dropsMessage)).pipe(client);
    else upstream.pipe(client);
  });
  const port = await listenOnLoopback(server);
  const cutAll = () => {
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  const close = async () => {
    open = false;
    cutAll();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.teardown(close);
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    cut() {
      open = false;
      cutAll();
    },
    restore() {
      open = true;
    },
    connections: () => pairs.size,
    dropMessages(next) {
      if (!options.inspectMessages)
        throw new Error("dropMessages needs a proxy started with inspectMessages");
      matches = next;
    },
    dropped: () => dropped,
    bytesFromTarget: () => fromTarget,
    close,
  };
}
