// The WebSocket surface the client uses: the browser's global WebSocket and Node's `ws` both have
// it, so the core never imports a Node module (the Node entry injects `ws`).
import { WS_PATH } from "../protocol/codes.js";

/** What the SDK uses of a WebSocket: the browser's, Node's global one and the `ws` package's all have it. */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed (as the WebSocket API). */
  readonly readyState: number;
  /** Called once the connection is open. */
  onopen: ((event: unknown) => void) | null;
  /** Called with each text frame received. */
  onmessage: ((event: { data: unknown }) => void) | null;
  /** Called once the connection has closed, with its close code and reason. */
  onclose: ((event: { code: number; reason: string }) => void) | null;
  /** Called on an error (a close follows). */
  onerror: ((event: unknown) => void) | null;
  /** Sends one text frame. */
  send(data: string): void;
  /** Closes the connection with a close code and reason. */
  close(code?: number, reason?: string): void;
}

/** A WebSocket class (`new (url, protocols)`), e.g. `WebSocket` from the `ws` package on Node before 22. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export const OPEN = 1;

/**
 * The herald.v1 endpoint for `url`: http(s) becomes ws(s), a bare origin gets /v1/ws, and in a
 * browser a relative URL is taken relative to the page.
 */
export function websocketUrl(url: string): string {
  const parsed = new URL(url, globalThis.location?.href);
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new TypeError(`herald: url must be ws://, wss://, http:// or https://, got ${JSON.stringify(url)}`);
  }
  if (parsed.pathname === "/" || parsed.pathname === "") parsed.pathname = WS_PATH;
  return parsed.toString();
}

/**
 * The base of the edge's HTTP endpoints (/v1/sse, /v1/publish) for `url`: ws(s) becomes http(s), and
 * a path ending in /v1/ws loses it, so a path prefix in front of the edge is kept.
 */
export function httpUrl(url: string): string {
  const parsed = new URL(websocketUrl(url));
  parsed.protocol = parsed.protocol === "wss:" ? "https:" : "http:";
  parsed.pathname = parsed.pathname.replace(new RegExp(`${WS_PATH}$`), "").replace(/\/$/, "");
  parsed.search = "";
  parsed.hash = "";
  return parsed.toString().replace(/\/$/, "");
}

export function defaultWebSocket(): WebSocketConstructor {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!global) {
    throw new TypeError(
      "herald: no global WebSocket here (Node before 22): pass { WebSocket } from the `ws` package",
    );
  }
  return global;
}
