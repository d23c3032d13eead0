// Turns one client WebSocket text frame into a typed ClientFrame, or says precisely what is wrong.
// Used by the edge; compiled validators (TypeCompiler) keep the per-frame cost low.
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { CLIENT_FRAMES, RequestId, type ClientFrame, type ClientOp, type TSchema } from "./frames.js";
import { topicProblem } from "./topic.js";
import { msgIdProblem } from "./msg-id.js";
import { jsonDataProblem, MAX_DATA_DEPTH } from "./json-depth.js";
import { mayHoldInexactNumbers, parseMarkingInexact } from "./json-numbers.js";
import type { ErrorCode } from "./codes.js";

export type ParsedClientFrame =
  | { ok: true; frame: ClientFrame }
  /** `fatal`: not a JSON object at all; the edge closes with 4400. Otherwise it replies `err`. */
  | { ok: false; fatal: boolean; code: ErrorCode; message: string; id?: RequestId };

const checks = Object.fromEntries(
  Object.entries(CLIENT_FRAMES).map(([op, schema]) => [op, TypeCompiler.Compile(schema as TSchema)]),
) as Record<ClientOp, TypeCheck<TSchema>>;

const OPS = Object.keys(CLIENT_FRAMES).join(", ");

export function parseClientFrame(text: string): ParsedClientFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
    // A pub frame's data is stored as the text of what was parsed: numbers parsing would change are
    // marked, and refused below (json-numbers.ts), rather than delivered changed.
    if (mayHoldInexactNumbers(text) && isPub(value)) value = parseMarkingInexact(text);
  } catch {
    return { ok: false, fatal: true, code: "invalid_frame", message: "frame is not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, fatal: true, code: "invalid_frame", message: "frame must be a JSON object" };
  }
  const record = value as Record<string, unknown>;
  const id = echoableId(record.id);
  const op = record.op;
  if (typeof op !== "string" || !Object.hasOwn(CLIENT_FRAMES, op)) {
    const what = typeof op === "string" ? `unknown op ${JSON.stringify(op.slice(0, 32))}` : "missing op";
    return { ok: false, fatal: false, code: "invalid_frame", message: `${what}; expected one of ${OPS}`, id };
  }
  const check = checks[op as ClientOp];
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    const path = first?.path ? first.path.slice(1).replaceAll("/", ".") : "";
    const unknownField = unknownFieldHint(record, op as ClientOp);
    // The schema bounds a topic's length too: say why the topic is wrong, as for any other bad topic.
    const topic =
      unknownField === undefined && path === "topic" && typeof record.topic === "string"
        ? topicProblem(record.topic)
        : undefined;
    if (topic !== undefined) return { ok: false, fatal: false, code: "invalid_topic", message: topic, id };
    // Likewise a msgId: the rule in words rather than the schema's pattern.
    const msgId = unknownField === undefined && path === "msgId" ? msgIdProblem(record.msgId) : undefined;
    if (msgId !== undefined)
      return { ok: false, fatal: false, code: "invalid_frame", message: `pub frame: ${msgId}`, id };
    const detail = describeError(path, first?.message ?? "invalid");
    return {
      ok: false,
      fatal: false,
      code: "invalid_frame",
      message: `${op} frame: ${unknownField ?? detail}`,
      id,
    };
  }
  const dataProblem = op === "pub" ? jsonDataProblem(record.data, MAX_DATA_DEPTH) : undefined;
  if (dataProblem !== undefined)
    return {
      ok: false,
      fatal: false,
      code: "invalid_frame",
      message: `pub frame: field 'data' ${dataProblem}`,
      id,
    };
  if (Object.hasOwn(record, "topic")) {
    const problem = topicProblem(record.topic);
    if (problem) return { ok: false, fatal: false, code: "invalid_topic", message: problem, id };
  }
  return { ok: true, frame: value as ClientFrame };
}

const requestIdCheck = TypeCompiler.Compile(RequestId);

/** Echo the client's id in the error only when it is itself valid, so replies stay well-formed. */
function echoableId(id: unknown): RequestId | undefined {
  return requestIdCheck.Check(id) ? id : undefined;
}

function unknownFieldHint(record: Record<string, unknown>, op: ClientOp): string | undefined {
  const allowed = Object.keys((CLIENT_FRAMES[op] as unknown as { properties: object }).properties);
  const extra = Object.getOwnPropertyNames(record).find((key) => !allowed.includes(key));
  return extra === undefined ? undefined : `unknown field '${extra.slice(0, 32)}'`;
}

function describeError(path: string, message: string): string {
  if (/required property/i.test(message)) return `missing field '${path}'`;
  if (/union/i.test(message)) return `field '${path}' has an invalid value`;
  return path ? `field '${path}': ${message.toLowerCase()}` : message.toLowerCase();
}

function isPub(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { op?: unknown }).op === "pub";
}
