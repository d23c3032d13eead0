// The SDK's API reference, generated from its types and their doc comments with the TypeScript
// compiler (what the package's declarations say, nothing written twice): docs/api.md, every export
// of client/index.ts; and the API table of docs/client.md, between its api-table markers.
// `npm run build:client` writes both; client/api-docs.test.ts fails when either is stale.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("../../", import.meta.url));
export const API_PATH = `${root}docs/api.md`;
export const GUIDE_PATH = `${root}docs/client.md`;
const ENTRY = `${root}client/index.ts`;
const TABLE_START = "<!-- api-table:start (generated from the types by client/build/api-docs.ts) -->";
const TABLE_END = "<!-- api-table:end -->";

interface Member {
  readonly name: string;
  readonly signature: string;
  readonly doc: string;
}

interface Export {
  readonly name: string;
  readonly kind: "class" | "function" | "interface" | "type";
  readonly doc: string;
  readonly members: Member[];
  /** The declaration as TypeScript: a type's definition, a function's signature, a generic interface's head. */
  readonly text?: string;
}

function analyse(): Export[] {
  const program = ts.createProgram([ENTRY], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    strict: true,
    noEmit: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(ENTRY)!;
  const module = checker.getSymbolAtLocation(source)!;
  const flags = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope;
  const docOf = (symbol: ts.Symbol): string =>
    ts
      .displayPartsToString(symbol.getDocumentationComment(checker))
      .replace(/\s*\n\s*/g, " ")
      .trim();
  const internal = (symbol: ts.Symbol): boolean =>
    symbol.getJsDocTags().some((tag) => tag.name === "internal");
  const exports: Export[] = [];
  for (const exported of checker.getExportsOfModule(module)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const name = exported.name;
    const declaration = symbol.declarations?.[0];
    if (!declaration) continue;
    if (ts.isClassDeclaration(declaration)) {
      const type = checker.getDeclaredTypeOfSymbol(symbol);
      const members: Member[] = [];
      const ctor = declaration.members.find(ts.isConstructorDeclaration);
      if (ctor && !ts.getJSDocTags(ctor).some((tag) => tag.tagName.text === "internal")) {
        const signature = checker.getSignatureFromDeclaration(ctor)!;
        members.push({
          name: `new ${name}`,
          signature: `new ${name}${checker.signatureToString(signature, undefined, flags).replace(/:\s*[^:]+$/, "")}`,
          doc: docOf(symbol),
        });
      }
      for (const property of checker.getPropertiesOfType(type)) {
        if (property.name.startsWith("#") || internal(property)) continue;
        const propertyDeclaration = property.declarations?.[0];
        // Members inherited from the platform (Error's name, message, stack) are not the SDK's.
        if (
          !propertyDeclaration ||
          !/\/(client|protocol)\//.test(propertyDeclaration.getSourceFile().fileName)
        )
          continue;
        const modifiers = ts.getCombinedModifierFlags(propertyDeclaration);
        if (modifiers & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
        const propertyType = checker.getTypeOfSymbolAtLocation(property, propertyDeclaration);
        const signatures = propertyType.getCallSignatures();
        const isMethod = ts.isMethodDeclaration(propertyDeclaration);
        const signature =
          isMethod && signatures.length > 0
            ? signatures
                .map((s) => `${property.name}${checker.signatureToString(s, undefined, flags)}`)
                .join("<br>")
            : `${property.name}: ${checker.typeToString(propertyType, undefined, flags)}`;
        members.push({ name: property.name, signature, doc: docOf(property) });
      }
      exports.push({ name, kind: "class", doc: docOf(symbol), members });
    } else if (ts.isFunctionDeclaration(declaration)) {
      const signature = checker.getSignatureFromDeclaration(declaration)!;
      exports.push({
        name,
        kind: "function",
        doc: docOf(symbol),
        members: [],
        text: `${name}${checker.signatureToString(signature, undefined, flags)}`,
      });
    } else if (ts.isInterfaceDeclaration(declaration)) {
      const parameters = typeParameters(declaration);
      const type = checker.getDeclaredTypeOfSymbol(symbol);
      const members = checker.getPropertiesOfType(type).map((property) => {
        const propertyDeclaration = property.declarations![0]!;
        const optional = property.flags & ts.SymbolFlags.Optional ? "?" : "";
        const propertyType = checker.getTypeOfSymbolAtLocation(property, propertyDeclaration);
        const text =
          ts.isPropertySignature(propertyDeclaration) && propertyDeclaration.type
            ? propertyDeclaration.type.getText()
            : checker.typeToString(propertyType, undefined, flags);
        return {
          name: property.name,
          signature: `${property.name}${optional}: ${text}`,
          doc: docOf(property),
        };
      });
      exports.push({
        name,
        kind: "interface",
        doc: docOf(symbol),
        members,
        ...(parameters ? { text: `interface ${name}${parameters}` } : {}),
      });
    } else if (ts.isTypeAliasDeclaration(declaration)) {
      exports.push({
        name,
        kind: "type",
        doc: docOf(symbol),
        members: [],
        text: `type ${name}${typeParameters(declaration)} = ${declaration.type.getText()}`,
      });
    }
  }
  const order = { class: 0, function: 1, interface: 2, type: 3 };
  return exports.sort((a, b) => order[a.kind] - order[b.kind] || a.name.localeCompare(b.name));
}

/** A generic declaration's type parameters as written (`<T = unknown>`), or "". */
function typeParameters(declaration: ts.InterfaceDeclaration | ts.TypeAliasDeclaration): string {
  const parameters = declaration.typeParameters;
  return parameters ? `<${parameters.map((parameter) => parameter.getText()).join(", ")}>` : "";
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
const code = (text: string) =>
  `<code>${cell(text)
    .replace(/</g, "&lt;")
    .replace(/&lt;br>/g, "<br>")}</code>`;

export function renderApiReference(): string {
  const exports = analyse();
  const lines = [
    "# @herald/client API reference",
    "",
    "Generated from the SDK's types and doc comments by `client/build/api-docs.ts` (`npm run build:client`);",
    "a test fails when it is stale. The guide is [client.md](client.md).",
    "",
    "Contents: " + exports.map((e) => `[${e.name}](#${e.name.toLowerCase()})`).join(" · "),
    "",
  ];
  for (const e of exports) {
    lines.push(`## ${e.name}`, "", `*${e.kind}*${e.doc ? ` — ${e.doc}` : ""}`, "");
    if (e.text) lines.push("```ts", e.text, "```", "");
    if (e.members.length > 0) {
      lines.push("| member | description |", "|---|---|");
      for (const m of e.members) lines.push(`| ${code(m.signature)} | ${cell(m.doc)} |`);
      lines.push("");
    }
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

/** The guide's table: what an application calls and listens to, one row each. */
export function renderApiTable(): string {
  const exports = analyse();
  const rows: string[] = ["| call or event | what it does |", "|---|---|"];
  const member = (className: string, prefix: string) => {
    const e = exports.find((x) => x.name === className)!;
    for (const m of e.members) {
      if (m.name === "on" || m.name === "off") continue;
      const call = m.name.startsWith("new ") ? m.signature : `${prefix}.${m.signature}`;
      rows.push(`| ${code(call)} | ${cell(m.doc)} |`);
    }
  };
  const events = (interfaceName: string, prefix: string) => {
    const e = exports.find((x) => x.name === interfaceName)!;
    for (const m of e.members) {
      const args = m.signature
        .slice(m.signature.indexOf(":") + 1)
        .trim()
        .replace(/^\[|\]$/g, "");
      rows.push(`| ${code(`${prefix}.on("${m.name}", (${args}) => …)`)} | ${cell(m.doc)} |`);
    }
  };
  member("HeraldClient", "client");
  events("ClientEvents", "client");
  member("Subscription", "sub");
  events("SubscriptionEvents", "sub");
  for (const fn of exports.filter((x) => x.kind === "function"))
    rows.push(`| ${code(fn.text!)} | ${cell(fn.doc)} |`);
  return rows.join("\n");
}

/** docs/client.md with its API table replaced by the generated one. */
export function renderGuide(current = readFileSync(GUIDE_PATH, "utf8")): string {
  const start = current.indexOf(TABLE_START);
  const end = current.indexOf(TABLE_END);
  if (start < 0 || end < start)
    throw new Error(`docs/client.md needs the markers ${TABLE_START} … ${TABLE_END}`);
  return `${current.slice(0, start + TABLE_START.length)}\n${renderApiTable()}\n${current.slice(end)}`;
}
