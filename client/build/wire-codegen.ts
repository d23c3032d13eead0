// Generates client/wire.ts: the TypeScript types of the herald.v1 frames the SDK sends and receives,
// and plain-JavaScript checks of the edge frames and HTTP answers it reads, from the protocol's
// JSON Schema (protocol/json-schema.ts, itself the TypeBox schemas of protocol/frames.ts). The SDK
// therefore ships no schema library and the protocol stays defined once; wire.test.ts checks that the
// generated checks give the same verdicts as TypeBox and that client/wire.ts is up to date.
// Only the JSON Schema keywords protocol/frames.ts uses are understood; any other one stops the
// generator, so no constraint added to the protocol can be silently left unchecked.
import { fileURLToPath } from "node:url";
import * as prettier from "prettier";
import { BATCH_SEPARATOR } from "../../protocol/edge-frames.js";
import { protocolJsonSchema, type JsonSchema } from "../../protocol/json-schema.js";

export const WIRE_PATH = fileURLToPath(new URL("../wire.ts", import.meta.url));

/** Definitions whose TypeScript type the SDK uses. */
const TYPES = [
  "RequestId",
  "ErrorCode",
  "FromPosition",
  "FromLast",
  "From",
  "SubFrame",
  "UnsubFrame",
  "PubFrame",
  "AuthFrame",
  "PingFrame",
  "ClientFrame",
  "Limits",
  "WelcomeFrame",
  "SubOkFrame",
  "MsgFrame",
  "AckFrame",
  "ErrFrame",
  "ReconnectFrame",
  "EdgeFrame",
  "PublishResult",
  "ErrorBody",
];
/** Definitions the SDK checks at run time (what it receives), besides every member of EdgeFrame. */
const CHECKED = ["PublishResult", "ErrorBody"];

const KNOWN_KEYWORDS = new Set([
  "description",
  "type",
  "const",
  "anyOf",
  "oneOf",
  "$ref",
  "properties",
  "required",
  "additionalProperties",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "items",
  "minItems",
  "maxItems",
]);

type Defs = Record<string, JsonSchema>;

function refName(schema: JsonSchema): string | undefined {
  const ref = schema.$ref;
  return typeof ref === "string" ? ref.replace("#/$defs/", "") : undefined;
}

function checkKeywords(schema: JsonSchema, where: string): void {
  for (const key of Object.keys(schema)) {
    if (!KNOWN_KEYWORDS.has(key)) throw new Error(`wire-codegen: unsupported keyword "${key}" in ${where}`);
  }
  if (schema.additionalProperties !== undefined && schema.additionalProperties !== false)
    throw new Error(`wire-codegen: additionalProperties other than false in ${where}`);
}

/** Primitive definitions (Topic, Seq, ...) are written inline as their TypeScript type. */
function isPrimitive(schema: JsonSchema): boolean {
  return (
    schema.properties === undefined &&
    schema.anyOf === undefined &&
    schema.oneOf === undefined &&
    schema.items === undefined
  );
}

// ---- types ----

function tsType(schema: JsonSchema, defs: Defs, where: string): string {
  checkKeywords(schema, where);
  const ref = refName(schema);
  if (ref !== undefined) {
    const target = defs[ref]!;
    return TYPES.includes(ref) || !isPrimitive(target) ? ref : tsType(target, defs, ref);
  }
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const union = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (union) return union.map((member, i) => tsType(member, defs, `${where}|${i}`)).join(" | ");
  switch (schema.type) {
    case "string":
      return "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return `${tsType(schema.items as JsonSchema, defs, `${where}[]`)}[]`;
    case "object": {
      const required = new Set((schema.required as string[] | undefined) ?? []);
      const fields = Object.entries(schema.properties as Record<string, JsonSchema>).map(
        ([name, sub]) => `${name}${required.has(name) ? "" : "?"}: ${tsType(sub, defs, `${where}.${name}`)}`,
      );
      return `{ ${fields.join("; ")} }`;
    }
    case undefined:
      return "unknown";
    default:
      throw new Error(`wire-codegen: unsupported type ${String(schema.type)} in ${where}`);
  }
}

function typeDeclaration(name: string, defs: Defs): string {
  const schema = defs[name]!;
  const doc = typeof schema.description === "string" ? `/** ${schema.description} */\n` : "";
  const type = tsType({ ...schema, description: undefined }, defs, name);
  return schema.type === "object"
    ? `${doc}export interface ${name} ${type}`
    : `${doc}export type ${name} = ${type};`;
}

// ---- checks ----

/** A JavaScript expression that is true when `v` is valid. */
function validExpression(schema: JsonSchema, defs: Defs, v: string, where: string): string {
  checkKeywords(schema, where);
  const ref = refName(schema);
  if (ref !== undefined) return `check${ref}(${v}) === undefined`;
  if (schema.const !== undefined) return `${v} === ${JSON.stringify(schema.const)}`;
  const parts: string[] = [];
  const union = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (union?.every((member) => member.const !== undefined)) {
    parts.push(`(${JSON.stringify(union.map((member) => member.const))} as unknown[]).includes(${v})`);
  } else if (union) {
    parts.push(`(${union.map((m, i) => validExpression(m, defs, v, `${where}|${i}`)).join(" || ")})`);
  }
  switch (schema.type) {
    case "string":
      parts.push(`typeof ${v} === "string"`);
      if (schema.minLength !== undefined) parts.push(`${v}.length >= ${schema.minLength as number}`);
      if (schema.maxLength !== undefined) parts.push(`${v}.length <= ${schema.maxLength as number}`);
      if (schema.pattern !== undefined)
        parts.push(`new RegExp(${JSON.stringify(schema.pattern)}).test(${v})`);
      break;
    case "integer":
      parts.push(`Number.isInteger(${v})`);
      break;
    case "number":
      parts.push(`Number.isFinite(${v})`);
      break;
    case "boolean":
      parts.push(`typeof ${v} === "boolean"`);
      break;
    case "object":
    case "array":
      return `${checkExpression(schema, defs, v, where)} === undefined`;
  }
  if (schema.minimum !== undefined) parts.push(`(${v} as number) >= ${schema.minimum as number}`);
  if (schema.maximum !== undefined) parts.push(`(${v} as number) <= ${schema.maximum as number}`);
  return parts.length === 0 ? "true" : parts.join(" && ");
}

/** What a valid value is, for error messages. */
function expectation(schema: JsonSchema, defs: Defs): string {
  const ref = refName(schema);
  if (ref !== undefined) return expectation(defs[ref]!, defs);
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const union = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (union) {
    if (union.every((member) => member.const !== undefined)) return "a known value";
    return union.map((member) => expectation(member, defs)).join(" or ");
  }
  const range = (what: string, min: unknown, max: unknown) =>
    min !== undefined && max !== undefined
      ? `${what} from ${String(min)} to ${String(max)}`
      : min !== undefined
        ? `${what} of at least ${String(min)}`
        : max !== undefined
          ? `${what} of at most ${String(max)}`
          : what;
  switch (schema.type) {
    case "string": {
      const text = range("a string", schema.minLength, schema.maxLength).replace(/(\d+)$/, "$1 characters");
      return schema.pattern === undefined ? text : `${text} matching /${schema.pattern as string}/`;
    }
    case "integer":
      return range("an integer", schema.minimum, schema.maximum);
    case "boolean":
      return "a boolean";
    case "array":
      return "an array";
    case "object":
      return "an object";
    default:
      return "any value";
  }
}

/** A JavaScript expression: undefined when `v` is valid, else what is wrong. */
function checkExpression(schema: JsonSchema, defs: Defs, v: string, where: string): string {
  checkKeywords(schema, where);
  const ref = refName(schema);
  if (ref !== undefined) return `check${ref}(${v})`;
  if (schema.type === "object" && schema.anyOf === undefined) {
    const required = new Set((schema.required as string[] | undefined) ?? []);
    const fields = Object.entries(schema.properties as Record<string, JsonSchema>).map(
      ([name, sub]) =>
        `[${JSON.stringify(name)}, ${required.has(name) ? 1 : 0}, ${fieldCheck(sub, defs, `${where}.${name}`)}]`,
    );
    return `object(${v}, ${schema.additionalProperties === false}, [${fields.join(", ")}])`;
  }
  if (schema.type === "array") {
    const min = (schema.minItems as number | undefined) ?? 0;
    const max = (schema.maxItems as number | undefined) ?? Number.MAX_SAFE_INTEGER;
    return `array(${v}, ${min}, ${max}, ${fieldCheck(schema.items as JsonSchema, defs, `${where}[]`)})`;
  }
  const valid = validExpression(schema, defs, v, where);
  return `(${valid} ? undefined : ${JSON.stringify(`expected ${expectation(schema, defs)}`)})`;
}

/** The check of a field: a named check itself, else an arrow function. */
function fieldCheck(schema: JsonSchema, defs: Defs, where: string): string {
  const ref = refName(schema);
  if (ref !== undefined) return `check${ref}`;
  return arrow("x", checkExpression(schema, defs, "x", where));
}

/** An arrow function of `v` returning `body`; one that takes no argument when it is always valid. */
function arrow(v: string, body: string): string {
  const valid = `(true ? undefined : ${JSON.stringify(`expected any value`)})`;
  return body === valid ? "() => undefined" : `(${v}: unknown) => ${body}`;
}

/** Every definition a check refers to, itself included. */
function referenced(name: string, defs: Defs, into = new Set<string>()): Set<string> {
  if (into.has(name)) return into;
  into.add(name);
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (typeof node === "object" && node !== null) {
      const ref = refName(node as JsonSchema);
      if (ref !== undefined) referenced(ref, defs, into);
      Object.values(node).forEach(walk);
    }
  };
  walk(defs[name]);
  return into;
}

/** The walkers the checks call, from client/wire-runtime.ts (written once, by hand). */
function runtimeImport(checks: string[]): string[] {
  const used = ["object", "array"].filter((name) => checks.some((check) => check.includes(`${name}(`)));
  return [
    `import { ${[...used, "type Check"].join(", ")} } from "./wire-runtime.js";`,
    'export type { Check } from "./wire-runtime.js";',
  ];
}

/** client/wire.ts, formatted as the repository's other sources. */
export async function renderWire(): Promise<string> {
  const options = await prettier.resolveConfig(WIRE_PATH);
  return prettier.format(renderWireSource(), { ...options, filepath: WIRE_PATH });
}

function renderWireSource(): string {
  const { $defs: defs } = protocolJsonSchema();
  const edgeMembers = ((defs.EdgeFrame!.oneOf as JsonSchema[]) ?? []).map((member) => refName(member)!);
  const checked = new Set<string>();
  for (const name of [...edgeMembers, ...CHECKED]) referenced(name, defs, checked);
  const checks = [...checked].map(
    (name) =>
      `export const check${name}: Check = ${arrow("v", checkExpression({ ...defs[name]!, description: undefined }, defs, "v", name))};`,
  );
  const ops = edgeMembers.map((name) => {
    const op = ((defs[name]!.properties as Record<string, JsonSchema>).op!.const as string) ?? name;
    return `  ${op}: check${name},`;
  });
  return [
    "// Generated by client/build/wire-codegen.ts from protocol/frames.ts (through protocol/json-schema.ts):",
    "// do not edit. `npm run build:client` writes it; client/wire.test.ts fails when it is stale.",
    "",
    ...runtimeImport(checks),
    "",
    ...TYPES.map((name) => typeDeclaration(name, defs)),
    "",
    "/** Edge frames batched into one WebSocket message are separated by this. */",
    `export const BATCH_SEPARATOR = ${JSON.stringify(BATCH_SEPARATOR)};`,
    "",
    ...checks,
    "",
    "/** The check of each edge frame, by op. */",
    'export const EDGE_FRAME_CHECKS: Readonly<Record<EdgeFrame["op"], Check>> = {',
    ...ops,
    "};",
    "",
  ].join("\n");
}
