// A complete HTTP/1.1 error response with herald's {"error":{"code","message"}} body, for the
// refusals written straight to a socket (malformed requests, WebSocket upgrades), where no
// fastify reply exists. The connection is always closed after it.
import { STATUS_CODES } from "node:http";
import { encodeErrorBody, ERROR_STATUS, type ErrorCode } from "../../protocol/index.js";

export function rawErrorResponse(
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
): string {
  const status = ERROR_STATUS[code];
  const body = encodeErrorBody(code, message);
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
    `${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}
