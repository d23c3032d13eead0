// GET /v1/sse: herald.v1 over Server-Sent Events (docs/protocol.md "Server-Sent Events"), for
// networks that refuse WebSocket upgrades and for plain EventSource clients. A codec in front of the
// SAME session core as /v1/ws (edge/session/): the URL's topics become that session's `sub` frames,
// its token (Authorization: Bearer, or ?token= for EventSource, which cannot set headers) gives the
// same grants, and its frames, limits and bounded send queue are the WebSocket's. Refusals before the
// stream starts are the HTTP API's JSON errors; a draining or full edge answers with a stream that
// asks to reconnect after a while (`retry:` and a `reconnect` frame), which an EventSource follows.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { CloseCode, encodeEdgeFrame, topicProblem, type From, type SubFrame } from "../../protocol/index.js";
import { decodeStreamPosition, SSE_PATH, type StreamPositionEntry } from "../../protocol/sse.js";
import type { Authenticator, UpgradeAuth } from "../auth/grants.js";
import type { Logger } from "../common/log.js";
import type { EdgeMetrics } from "../common/metrics.js";
import { RequestError, toRequestError } from "../requests/request-error.js";
import type { EdgeConfig } from "../../shared/config.js";
import { Session, type SessionContext } from "../session/session.js";
import type { Sessions } from "../session/sessions.js";
import { corsHeaders } from "./cors.js";
import { SseTransport } from "./sse-transport.js";

export interface SseDeps {
  readonly config: EdgeConfig;
  readonly authenticator: Authenticator;
  readonly sessionContext: SessionContext;
  readonly sessions: Sessions;
  readonly metrics: EdgeMetrics;
  readonly log: Logger;
  readonly draining: () => boolean;
}

type Query = Record<string, string | string[] | undefined>;

const LAST_K = /^last:(\d{1,6})$/;
/** How long a draining or full edge asks streams to wait before they come back, at least. */
const RETRY_AFTER_MS = 1000;

export function registerSseRoute(app: FastifyInstance, deps: SseDeps): void {
  const { config, authenticator, sessions } = deps;
  let admitting = 0;

  app.get<{ Querystring: Query }>(SSE_PATH, async (request, reply) => {
    const cors = corsHeaders(request.headers.origin, config.allowedOrigins);
    if (cors === undefined)
      throw new RequestError("forbidden", `origin ${request.headers.origin} is not allowed`);
    // Refusals carry them too, so that a page on another origin can read why.
    reply.headers(cors);
    const topics = parseTopics(request.query.topic, config.maxSubscriptions);
    const froms = parseFrom(request, topics.length);
    const headers = {
      ...cors,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      // Proxies that buffer responses (nginx) must pass each event on at once.
      "x-accel-buffering": "no",
    };
    if (deps.draining() || sessions.size + admitting >= config.maxConnections) {
      const reason = deps.draining()
        ? "this edge is draining; connect to another one"
        : `this edge is at its limit of ${config.maxConnections} connections; try another one`;
      const afterMs = RETRY_AFTER_MS + Math.floor(Math.random() * RETRY_AFTER_MS);
      reply.hijack();
      reply.raw.writeHead(200, headers);
      reply.raw.end(
        `retry: ${afterMs}\nevent: reconnect\ndata: ${encodeEdgeFrame({ op: "reconnect", afterMs })}\n\n` +
          `event: close\ndata: ${JSON.stringify({ code: CloseCode.Draining, reason })}\n\n`,
      );
      return reply;
    }
    admitting++;
    let auth: UpgradeAuth;
    try {
      auth = await authenticate(request, authenticator);
    } finally {
      admitting--;
    }
    if (request.raw.destroyed) return reply;

    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, headers);
    // A comment first, so that clients and proxies see the stream open before any event.
    response.write(
      `: herald.v1 ${topics.length} topic${topics.length === 1 ? "" : "s"}\nretry: ${RETRY_AFTER_MS}\n\n`,
    );
    const transport = new SseTransport(
      response,
      topics,
      froms.map((from) => (from !== undefined && "epoch" in from ? from : undefined)),
    );
    const session = new Session(transport, deps.sessionContext, auth, (ended) => sessions.remove(ended));
    deps.metrics.connectionsOpened.inc();
    if (session.isClosed) return reply;
    sessions.add(session);
    deps.log.log("debug", "session_open", { session: session.id, transport: "sse", topics: topics.length });
    topics.forEach((topic, id) => {
      const from = froms[id];
      const sub: SubFrame = from === undefined ? { op: "sub", topic, id } : { op: "sub", topic, id, from };
      session.receive(JSON.stringify(sub));
    });
    return reply;
  });

  // A page on another origin that sends Authorization or Last-Event-ID asks first. The SDK opens a
  // new stream on every change of subscriptions and every token refresh: the answer is cached.
  app.options(SSE_PATH, async (request, reply) => {
    const cors = corsHeaders(request.headers.origin, config.allowedOrigins);
    if (cors === undefined)
      throw new RequestError("forbidden", `origin ${request.headers.origin} is not allowed`);
    return reply
      .status(204)
      .headers({ ...cors, "access-control-allow-methods": "GET", "access-control-max-age": "600" })
      .send();
  });
}

/**
 * The stream's topics: `topic` repeated, or comma-separated (topics never contain commas). None is a
 * stream of the welcome and heartbeats only (a client that only publishes, or not subscribed yet).
 */
function parseTopics(value: string | string[] | undefined, max: number): string[] {
  const topics = (Array.isArray(value) ? value : value === undefined ? [] : [value]).flatMap((v) =>
    v.split(","),
  );
  if (topics.length > max)
    throw new RequestError("limit_exceeded", `a stream carries at most ${max} topics, got ${topics.length}`);
  const seen = new Set<string>();
  for (const topic of topics) {
    const problem = topicProblem(topic);
    if (problem) throw new RequestError("invalid_topic", `${JSON.stringify(topic.slice(0, 64))}: ${problem}`);
    if (seen.has(topic)) throw new RequestError("bad_request", `topic ${topic} is listed twice`);
    seen.add(topic);
  }
  return topics;
}

/**
 * Where each topic starts: the Last-Event-ID an EventSource sends when it reconnects (also as
 * ?lastEventId=, for clients that cannot set headers), for the topics it has a position for; else
 * `from`: "live" (default), "last:K", or a stream position (an event id kept from an earlier stream);
 * or `from` once per topic, each "live", "last:K" or "<seq>@<epoch>".
 */
function parseFrom(request: FastifyRequest<{ Querystring: Query }>, topics: number): (From | undefined)[] {
  const header = request.headers["last-event-id"];
  const lastEventId = (Array.isArray(header) ? header[0] : header) ?? single(request.query.lastEventId);
  const base = parseFromParam(request.query.from, topics);
  if (lastEventId === undefined || lastEventId === "") return base;
  const resumed = parseStart(lastEventId, topics, "Last-Event-ID");
  return resumed.map((from, i) => from ?? base[i]);
}

/** `from` once for every topic, or once per topic in the order of the topics (the SDK's way). */
function parseFromParam(value: string | string[] | undefined, topics: number): (From | undefined)[] {
  if (!Array.isArray(value)) return parseStart(value, topics, "from");
  if (value.length !== topics)
    throw new RequestError(
      "bad_request",
      `give from once, or once per topic (${topics}), not ${value.length} times`,
    );
  return value.map((one) => parseStart(one, 1, "from")[0]);
}

function parseStart(text: string | undefined, topics: number, what: string): (From | undefined)[] {
  if (text === undefined || text === "live") return Array.from({ length: topics }, () => undefined);
  const last = LAST_K.exec(text);
  if (last) {
    const k = Number(last[1]);
    if (k > 100_000) throw new RequestError("bad_request", `${what}=last:K takes K from 0 to 100000`);
    return Array.from({ length: topics }, () => ({ last: k }));
  }
  const entries = decodeStreamPosition(text, topics);
  if (entries === undefined)
    throw new RequestError(
      "bad_request",
      `${what} must be "live", "last:K" or a stream position of this stream's ${topics} topic${topics === 1 ? "" : "s"} (an event id of such a stream)`,
    );
  return entries.map(
    (entry: StreamPositionEntry | undefined) => entry && { epoch: entry.epoch, seq: entry.seq },
  );
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The same grants as a WebSocket upgrade: a JWT in the Authorization header or ?token=, else none. */
async function authenticate(
  request: FastifyRequest<{ Querystring: Query }>,
  authenticator: Authenticator,
): Promise<UpgradeAuth> {
  const header = request.headers.authorization;
  let token = single(request.query.token);
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new RequestError("unauthenticated", "the Authorization header must be: Bearer <JWT>");
    token = match[1];
  }
  if (token === undefined) {
    if (authenticator.anonymous()) return { kind: "none" };
    throw new RequestError(
      "unauthenticated",
      `send a JWT: Authorization: Bearer <JWT>, or ?token=<JWT>; this edge accepts ${authenticator.accepts.ws}`,
    );
  }
  try {
    return { kind: "token", grants: await authenticator.verifyToken(token) };
  } catch (error) {
    throw toRequestError(error);
  }
}
