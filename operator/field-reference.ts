// The spec and status field reference in docs/operator.md, generated from the same schemas as the
// CRD (between the GENERATED markers), so the documentation cannot drift from what is validated.
import { NotificationServiceSpec, NotificationServiceStatus } from "./spec.js";

interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  required?: string[];
}

function constraints(node: SchemaNode): string {
  const parts: string[] = [];
  if (node.enum) parts.push(`one of ${node.enum.map((v) => `\`${String(v)}\``).join(", ")}`);
  if (node.minimum !== undefined || node.maximum !== undefined)
    parts.push(`${node.minimum ?? "…"}–${node.maximum ?? "…"}`);
  if (node.pattern) parts.push(`pattern \`${node.pattern.replaceAll("|", "\\|")}\``);
  return parts.join("; ");
}

function rows(node: SchemaNode, path: string, required: boolean, out: string[]): void {
  const isObject = node.type === "object" && node.properties;
  const defaultValue = node.default === undefined || isObject ? "" : `\`${JSON.stringify(node.default)}\``;
  if (path)
    out.push(
      `| \`${path}\` | ${node.type ?? ""} | ${required && node.default === undefined ? "yes" : ""} | ${defaultValue} | ${constraints(node)} | ${node.description ?? ""} |`,
    );
  if (isObject)
    for (const [key, child] of Object.entries(node.properties!))
      rows(child, path ? `${path}.${key}` : key, (node.required ?? []).includes(key), out);
  if (node.type === "array" && node.items?.properties)
    rows({ ...node.items, description: "One entry." }, `${path}[]`, false, out);
}

function table(root: string, schema: unknown): string {
  const out = ["| field | type | required | default | allowed | meaning |", "|---|---|---|---|---|---|"];
  const node = JSON.parse(JSON.stringify(schema)) as SchemaNode;
  for (const [key, child] of Object.entries(node.properties ?? {}))
    rows(child, `${root}.${key}`, (node.required ?? []).includes(key), out);
  return out.join("\n");
}

export const REFERENCE_START =
  "<!-- GENERATED field reference (node --import tsx operator/generate-crd.ts) -->";
export const REFERENCE_END = "<!-- END GENERATED field reference -->";

export function fieldReference(): string {
  return `${REFERENCE_START}\n### spec\n\n${table("spec", NotificationServiceSpec)}\n\n### status\n\n${table("status", NotificationServiceStatus)}\n${REFERENCE_END}`;
}

/** The document with its generated section replaced. */
export function withFieldReference(document: string): string {
  const start = document.indexOf(REFERENCE_START);
  const end = document.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new Error("docs/operator.md has no GENERATED field reference markers");
  return document.slice(0, start) + fieldReference() + document.slice(end + REFERENCE_END.length);
}
