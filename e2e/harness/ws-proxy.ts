// A WebSocket-aware proxy on loopback for tests: it relays herald.v1 frames between clients and
// an edge one frame at a time, so a test can drop one chosen edge frame (inject a gap the client
// must heal), push a frame of its own to the client (e.g. `reconnect`), or cut every connection.
// Batched edge frames are split on "\n": a dropped frame removes only its own line.
import { createServer, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import WebSocket, { WebSocketServer, type RawData } from "ws";
import { BATCH_SEPARATOR, SUBPROTOCOL, type EdgeFrame } from "../../protocol/index.js";
import type { Teardown } from "./nats-server.js";
import { listenOnLoopback } from "./free-port.js";

export interface WsProxy {
  readonly port: number;
  /** ws://127.0.0.1:<port>/v1/ws */
  readonly wsUrl: string;
  /**
   * Drops the next edge → client frame that matches (once); resolves with it when it was dropped.
   * Frames are matched after JSON parsing but are otherwise relayed as the edge wrote them.
   */
  dropEdgeFrame(matches: (frame: EdgeFrame) => boolean): Promise<EdgeFrame>;
  /** Sends `frame` to every connected client as if the edge had sent it. */
  injectEdgeFrame(frame: EdgeFrame): void;
  /**
   * Stops relaying anything on the connections open now, without closing them: a half-open
   * connection, as after a silent network failure. New connections are relayed normally.
   */
  freezeAll(): void;
  /** Closes every client connection with `code`, as if the edge had (the edge side is closed too). */
  closeClients(code: number, reason: string): void;
  /** Cuts every connection at once, like a network failure (no close handshake). */
  cutAll(): void;
  /** How many edge → client frames with this op the proxy has relayed or dropped so far. */
  edgeFramesSeen(op: EdgeFrame["op"]): number;
  /** Client connections accepted so far. */
  connectionsAccepted(): number;
  /** Client connections open now. */
  connectionsOpen(): number;
  close(): Promise<void>;
}

interface DropRule {
  matches(frame: EdgeFrame): boolean;
  dropped(frame: EdgeFrame): void;
}

/** Close codes that may be sent in a close frame (1005/1006/1015 only describe what happened). */
function sendableCode(code: number): number | undefined {
  return code === 1000 ||
    (code >= 1001 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
    ? code
    : undefined;
}

export async function startWsProxy(t: Teardown, target: { port: number; host?: string }): Promise<WsProxy> {
  const upstreamBase = `ws://${target.host ?? "127.0.0.1"}:${target.port}`;
  const rules: DropRule[] = [];
  const pairs = new Set<{ client: WebSocket; upstream: WebSocket; frozen: boolean }>();
  const seen = new Map<string, number>();
  let accepted = 0;

  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  const server = createServer((_request, response) => {
    response.writeHead(426, { "content-type": "text/plain" }).end("WebSocket only");
  });
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    wss.handleUpgrade(request, socket, head, (client) => relay(client, request.url ?? "/"));
  });

  /** Applies the drop rules to one edge → client WebSocket frame; undefined = nothing left to send. */
  function filterEdgeText(text: string): string | undefined {
    const kept: string[] = [];
    for (const line of text.split(BATCH_SEPARATOR)) {
      let frame: EdgeFrame | undefined;
      try {
        frame = JSON.parse(line) as EdgeFrame;
      } catch {
        frame = undefined; // not ours to judge: relay as is, the client reports it
      }
      if (frame !== undefined) seen.set(frame.op, (seen.get(frame.op) ?? 0) + 1);
      const index = frame === undefined ? -1 : rules.findIndex((rule) => rule.matches(frame));
      if (index >= 0) rules.splice(index, 1)[0]!.dropped(frame!);
      else kept.push(line);
    }
    return kept.length > 0 ? kept.join(BATCH_SEPARATOR) : undefined;
  }

  function relay(client: WebSocket, path: string): void {
    accepted++;
    const upstream = new WebSocket(upstreamBase + path, SUBPROTOCOL, { perMessageDeflate: false });
    const pair = { client, upstream, frozen: false };
    pairs.add(pair);
    const early: string[] = [];
    const closeBoth = (code: number, reason: string) => {
      pairs.delete(pair);
      for (const ws of [client, upstream]) {
        if (ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING) continue;
        const sendable = sendableCode(code);
        if (sendable === undefined || ws.readyState === WebSocket.CONNECTING) ws.terminate();
        else ws.close(sendable, reason);
      }
    };
    upstream.on("open", () => {
      for (const text of early.splice(0)) upstream.send(text);
    });
    upstream.on("message", (data: RawData, isBinary: boolean) => {
      if (isBinary || pair.frozen || client.readyState !== WebSocket.OPEN) return;
      const text = filterEdgeText(data.toString());
      if (text !== undefined) client.send(text);
    });
    client.on("message", (data: RawData, isBinary: boolean) => {
      if (isBinary || pair.frozen) return;
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data.toString());
      else early.push(data.toString());
    });
    upstream.on("close", (code, reason) => closeBoth(code, reason.toString()));
    client.on("close", (code, reason) => closeBoth(code, reason.toString()));
    upstream.on("error", () => closeBoth(1011, "upstream failed"));
    client.on("error", () => closeBoth(1011, "client failed"));
  }

  const port = await listenOnLoopback(server);

  let closed: Promise<void> | undefined;
  const proxy: WsProxy = {
    port,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    dropEdgeFrame: (matches) => new Promise((dropped) => rules.push({ matches, dropped })),
    injectEdgeFrame: (frame) => {
      for (const { client } of pairs)
        if (client.readyState === WebSocket.OPEN) client.send(JSON.stringify(frame));
    },
    freezeAll: () => {
      for (const pair of pairs) pair.frozen = true;
    },
    closeClients: (code, reason) => {
      for (const { client } of pairs) client.close(code, reason);
    },
    cutAll: () => {
      for (const { client, upstream } of [...pairs]) {
        client.terminate();
        upstream.terminate();
      }
      pairs.clear();
    },
    edgeFramesSeen: (op) => seen.get(op) ?? 0,
    connectionsAccepted: () => accepted,
    connectionsOpen: () => pairs.size,
    close: () =>
      (closed ??= (async () => {
        proxy.cutAll();
        wss.close();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })()),
  };
  t.teardown(() => proxy.close());
  return proxy;
}
