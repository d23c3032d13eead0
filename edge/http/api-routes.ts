// The HTTP API (docs/protocol.md#http): POST /v1/publish (one message or a batch) and
// GET /v1/topics/:topic/messages (history from the durable log, via the hub).
import type { FastifyInstance } from "fastify";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import {
  jsonDataProblem,
  matchesAny,
  MAX_DATA_DEPTH,
  msgIdProblem,
  PublishBody,
  PublishItem,
  SUBPROTOCOL,
  topicProblem,
  WS_PATH,
  type PublishResult,
} from "../../protocol/index.js";
import type { Authenticator } from "../auth/grants.js";
import { stringBytes, type MemoryBudget } from "../common/memory-budget.js";
import type { EdgeConfig } from "../../shared/config.js";
import type { Hub } from "../hub/hub.js";
import type { PublishRequests } from "../requests/publish-requests.js";
import { RequestError } from "../requests/request-error.js";
import { CredentialLimits } from "../requests/rate-limits.js";
import { requestCaller } from "./request-auth.js";

const itemCheck = TypeCompiler.Compile(PublishItem);
const MAX_BATCH = (PublishBody.anyOf[1] as { maxItems: number }).maxItems;

export interface ApiDeps {
  readonly config: EdgeConfig;
  readonly hub: Hub;
  readonly publisher: PublishRequests;
  readonly authenticator: Authenticator;
  /** History pages are held until sent: they count against the edge's memory budget. */
  readonly budget?: MemoryBudget;
}

export function registerApiRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { config, hub, publisher, authenticator, budget } = deps;

  // The WebSocket endpoint reached without an upgrade (a browser tab, a plain curl).
  app.get(WS_PATH, async () => {
    throw new RequestError(
      "bad_request",
      `${WS_PATH} is a WebSocket endpoint: connect with the subprotocol ${SUBPROTOCOL}`,
    );
  });

  // Per credential, as the WebSocket limits each connection (edge/requests/rate-limits.ts).
  const publishLimits = new CredentialLimits("publishes", (credential) =>
    credential.startsWith("token:") ? config.publishesPerSecond : config.httpPublishesPerSecond,
  );
  const historyLimits = new CredentialLimits("history requests", () => config.historyReadsPerSecond);

  app.post("/v1/publish", async (request, reply) => {
    // Who is asking comes first: an unauthenticated caller learns nothing about its body.
    const { grants, credential } = await requestCaller(request, authenticator);
    const body = request.body;
    const batch = Array.isArray(body);
    const items = batch ? (body as unknown[]) : [body];
    if (batch && (items.length === 0 || items.length > MAX_BATCH)) {
      throw new RequestError("bad_request", `a batch holds 1 to ${MAX_BATCH} messages, got ${items.length}`);
    }
    // Check everything before storing anything, so a bad batch stores nothing.
    const messages = items.map((item, index) => {
      const where = batch ? `message ${index}: ` : "";
      const problem = publishItemProblem(item);
      if (problem) throw new RequestError(problem.code, where + problem.message);
      const valid = item as PublishItem;
      try {
        publisher.checkAllowed(grants, valid.topic);
        return publisher.encode(valid);
      } catch (error) {
        if (error instanceof RequestError) throw new RequestError(error.code, where + error.message);
        throw error;
      }
    });
    // Each message of a batch counts; a valid request over the rate stores nothing (429).
    publishLimits.take(credential, messages.length);
    // All of a batch at once: the backend keeps each topic's messages in the order they are handed
    // to it (here, the batch's), and a topic's publishes are pipelined rather than one round trip
    // each. If one fails the answer is that error, and the batch's fate is unknown (the caller
    // retries with msgIds): as before, when the rest of it was not even sent.
    const results: PublishResult[] = await Promise.all(
      messages.map(async (message) => {
        const { seq, dup } = await publisher.store(message, "http");
        return { seq, dup };
      }),
    );
    return reply.send(batch ? results : results[0]);
  });

  app.get<{ Params: { topic: string }; Querystring: Record<string, string | string[] | undefined> }>(
    "/v1/topics/:topic/messages",
    async (request, reply) => {
      const { grants, credential } = await requestCaller(request, authenticator);
      const { topic } = request.params;
      const problem = topicProblem(topic);
      if (problem) throw new RequestError("invalid_topic", problem);
      const after = queryInteger(request.query, "after", 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = queryInteger(request.query, "limit", config.historyLimit, 1, config.historyLimit);
      const unknown = Object.keys(request.query).find((key) => key !== "after" && key !== "limit");
      if (unknown !== undefined)
        throw new RequestError("bad_request", `unknown query parameter '${unknown}'; use after and limit`);
      if (!matchesAny(grants.subscribe, topic))
        throw new RequestError("forbidden", `not allowed to read "${topic}"`);
      historyLimits.take(credential);
      // A page is held until it is sent: with the memory budget spent, say so rather than hold more.
      if (budget && !budget.hasRoom())
        throw new RequestError("unavailable", "this edge's memory budget is in use; try again shortly", 1);
      const result = await hub.history(topic, after, limit);
      // Stored data is JSON text already: splice it in rather than parse and re-serialize.
      const messages = result.messages.map(
        (m) => `{"seq":${m.seq},"prev":${m.prev},"data":${m.data},"ts":${m.ts}}`,
      );
      const json = `{"topic":${JSON.stringify(topic)},"epoch":${JSON.stringify(result.epoch)},"recovered":${result.recovered},"messages":[${messages.join(",")}]}`;
      const bytes = Buffer.byteLength(json);
      const hold = budget?.hold("history", stringBytes(json.length, bytes));
      if (hold) reply.raw.once("close", () => hold.release());
      return reply.type("application/json").header("content-length", bytes).send(json);
    },
  );
}

function publishItemProblem(item: unknown): RequestError | undefined {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    return new RequestError("bad_request", 'expected {"topic", "data", "msgId"?} (or an array of them)');
  }
  const record = item as Record<string, unknown>;
  const extra = Object.keys(record).find((key) => key !== "topic" && key !== "data" && key !== "msgId");
  if (extra !== undefined) return new RequestError("bad_request", `unknown field '${extra.slice(0, 32)}'`);
  if (!("topic" in record)) return new RequestError("bad_request", "missing field 'topic'");
  if (!("data" in record)) return new RequestError("bad_request", "missing field 'data'");
  const topic = topicProblem(record.topic);
  if (topic) return new RequestError("invalid_topic", topic);
  // The rule in words (protocol/msg-id.ts), the same as for WebSocket pub frames.
  const msgId = "msgId" in record ? msgIdProblem(record.msgId) : undefined;
  if (msgId) return new RequestError("bad_request", msgId);
  if (!itemCheck.Check(item)) {
    const first = itemCheck.Errors(item).First();
    return new RequestError(
      "bad_request",
      `field '${first?.path.slice(1) ?? ""}': ${first?.message.toLowerCase() ?? "invalid"}`,
    );
  }
  // The same checks as WebSocket pub frames: deeper data would overflow JSON.stringify (a 500).
  const data = jsonDataProblem(record.data, MAX_DATA_DEPTH);
  return data === undefined ? undefined : new RequestError("bad_request", `field 'data' ${data}`);
}

function queryInteger(
  query: Record<string, string | string[] | undefined>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = query[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== "string" || !/^\d+$/.test(raw))
    throw new RequestError("bad_request", `${name} must be a whole number, got ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new RequestError("bad_request", `${name} must be between ${min} and ${max}, got ${raw}`);
  return value;
}
