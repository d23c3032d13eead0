// Every HTTP error leaves as {"error":{"code","message"}} with the status ERROR_STATUS names,
// including fastify's own (bad JSON, wrong content type, body too large) and unknown routes.
import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { encodeErrorBody, ERROR_STATUS, MAX_TOPIC_BYTES, type ErrorCode } from "../../protocol/index.js";
import type { Logger } from "../common/log.js";
import { RequestError, toRequestError } from "../requests/request-error.js";
import { installJsonBodyParser } from "./json-body.js";
import { rawErrorResponse } from "./raw-error-response.js";

export function sendError(reply: FastifyReply, error: RequestError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) reply.header("retry-after", String(error.retryAfterSeconds));
  return reply
    .status(ERROR_STATUS[error.code])
    .type("application/json")
    .send(encodeErrorBody(error.code, error.message));
}

/** fastify's own errors (they carry a 4xx statusCode) in herald's words. */
function fromFastify(
  error: { statusCode?: number; code?: string; message: string },
  bodyLimit: number,
): RequestError | undefined {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new RequestError("payload_too_large", `request body is over the limit of ${bodyLimit} bytes`);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new RequestError("bad_request", "Content-Type must be application/json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new RequestError("bad_request", "request body is empty; send a JSON document");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new RequestError("bad_request", "request body is not valid JSON");
  }
  if (error instanceof SyntaxError)
    return new RequestError("bad_request", `request body is not valid JSON: ${error.message}`);
  const status = error.statusCode;
  if (status === undefined || status < 400 || status >= 500) return undefined;
  const code =
    (Object.keys(ERROR_STATUS) as ErrorCode[]).find((c) => ERROR_STATUS[c] === status) ?? "bad_request";
  return new RequestError(code, error.message);
}

/**
 * fastify's router answers a path that is not valid percent-encoding, or a segment over
 * maxParamLength, before any route or error handler runs: this option keeps those in herald's words.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // maxParamLength is three times MAX_TOPIC_BYTES (each byte percent-encoded): a longer topic
  // segment is a topic over the limit, and is refused like one.
  const topicTooLong = error.code === "FST_ERR_MAX_PARAM_LENGTH" && request.url.startsWith("/v1/topics/");
  const refused = topicTooLong
    ? new RequestError("invalid_topic", `topic is longer than ${MAX_TOPIC_BYTES} bytes`)
    : new RequestError("bad_request", error.message);
  void sendError(reply, refused);
}

/** Node's parser errors (see the 'clientError' event of node:http) in herald's words. */
function fromClientError(error: NodeJS.ErrnoException, maxHeaderBytes: number): RequestError {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return new RequestError(
        "headers_too_large",
        `request line and headers are over the limit of ${maxHeaderBytes} bytes`,
      );
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new RequestError("request_timeout", "the request did not arrive in time");
    default:
      return new RequestError("bad_request", "malformed HTTP request");
  }
}

/**
 * Answers requests Node's HTTP parser refuses before fastify sees them (oversized headers, timeouts,
 * bytes that are not HTTP, smuggling attempts) with herald's JSON error body, then closes.
 */
export function clientErrorHandler(maxHeaderBytes: number) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    // A reset socket has nobody left to answer.
    if (error.code === "ECONNRESET" || socket.destroyed) return;
    // As Node itself does: never write into a response that has already started on this socket.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const refused = fromClientError(error, maxHeaderBytes);
      socket.end(rawErrorResponse(refused.code, refused.message));
    }
    socket.destroySoon();
  };
}

/** How much of a body over the limit is read and thrown away, in multiples of the limit. */
const DISCARD_FACTOR = 4;

/**
 * A body over the limit is refused before all of it has arrived. Closing then would reset the
 * connection while the client still sends, and clients report that reset instead of the 413 (the
 * reason for a lingering close). So the rest is read and thrown away, up to DISCARD_FACTOR times the
 * limit and within the request timeout, and the connection stays open for the next request. A body
 * declared larger than that is not waited for: the connection closes after the answer.
 */
function discardRest(request: FastifyRequest, reply: FastifyReply, bodyLimit: number): void {
  const raw = request.raw;
  if (raw.complete) return;
  const most = DISCARD_FACTOR * bodyLimit;
  if (Number(raw.headers["content-length"]) > most) return;
  const socket = raw.socket;
  const start = socket.bytesRead;
  reply.removeHeader("connection");
  raw.on("data", () => {
    if (socket.bytesRead - start > most) socket.destroy();
  });
  raw.resume();
}

export function installErrorHandling(app: FastifyInstance, log: Logger, bodyLimit: number): void {
  // The API speaks JSON only: other bodies are refused (415 → bad_request) rather than half-parsed.
  app.removeContentTypeParser("text/plain");
  installJsonBodyParser(app);
  app.setErrorHandler((error, request, reply) => {
    const refused =
      fromFastify(error as Parameters<typeof fromFastify>[0], bodyLimit) ?? toRequestError(error);
    if (refused.code === "internal")
      log.log("error", "http_error", {
        method: request.method,
        url: request.routeOptions.url,
        error: String(error),
      });
    // Who was turned away and why (never with the credential): an operator looks for these.
    if (refused.code === "unauthenticated" || refused.code === "forbidden")
      log.log("info", "auth_refused", {
        method: request.method,
        route: request.routeOptions.url,
        code: refused.code,
        reason: refused.message,
        remote: request.ip,
      });
    if (refused.code === "payload_too_large") discardRest(request, reply, bodyLimit);
    return sendError(reply, refused);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new RequestError("not_found", `no route ${request.method} ${request.url.split("?")[0]}`),
    ),
  );
}
