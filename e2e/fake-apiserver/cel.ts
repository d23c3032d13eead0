// A small evaluator of the Common Expression Language, for the fake API server's CRD validation
// rules (x-kubernetes-validations). It covers the subset Kubernetes rules are written in, with
// CEL's semantics: ints, doubles, strings, bools, null, lists and maps; field selection (an absent
// field is an error, `has()` tests presence); `! - * / % + - < <= > >= == != in && || ?:` with
// error absorption in && and || (`false && error` is false); the macros all, exists, exists_one,
// filter and map; size, startsWith, endsWith, contains, matches, type, int, string. Test-only.

export class CelError extends Error {}

type Value = null | boolean | number | string | Value[] | { [key: string]: Value } | CelType;

/** A type value, as `type(x)` returns and `int`, `string`, … name. */
class CelType {
  constructor(readonly name: string) {}
}
const TYPES: Record<string, CelType> = Object.fromEntries(
  ["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type"].map((n) => [
    n,
    new CelType(n),
  ]),
);

type Node =
  | { k: "lit"; v: Value }
  | { k: "id"; name: string }
  | { k: "sel"; target: Node; field: string }
  | { k: "idx"; target: Node; index: Node }
  | { k: "call"; name: string; target?: Node; args: Node[] }
  | { k: "list"; items: Node[] }
  | { k: "map"; entries: [Node, Node][] }
  | { k: "un"; op: "!" | "-"; arg: Node }
  | { k: "bin"; op: string; left: Node; right: Node }
  | { k: "cond"; test: Node; then: Node; else: Node };

interface Token {
  t: "num" | "str" | "id" | "op" | "end";
  v: string;
  int?: boolean;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = source.slice(i);
    const number = /^(\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|0x[0-9a-fA-F]+|\d+)(u)?/.exec(rest);
    if (number) {
      const text = number[1]!;
      tokens.push({ t: "num", v: text, int: !/[.eE]/.test(text) || text.startsWith("0x") });
      i += number[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (ident) {
      // r'…' / r"…": raw strings.
      if ((ident[0] === "r" || ident[0] === "R") && (source[i + 1] === "'" || source[i + 1] === '"')) {
        const quote = source[i + 1]!;
        const end = source.indexOf(quote, i + 2);
        if (end < 0) throw new CelError("unterminated string");
        tokens.push({ t: "str", v: source.slice(i + 2, end) });
        i = end + 1;
        continue;
      }
      tokens.push({ t: "id", v: ident[0] });
      i += ident[0].length;
      continue;
    }
    if (c === "'" || c === '"') {
      let value = "";
      let j = i + 1;
      for (; j < source.length && source[j] !== c; j++) {
        if (source[j] === "\\") {
          const next = source[++j];
          value += next === "n" ? "\n" : next === "t" ? "\t" : next === "r" ? "\r" : next;
        } else value += source[j];
      }
      if (j >= source.length) throw new CelError("unterminated string");
      tokens.push({ t: "str", v: value });
      i = j + 1;
      continue;
    }
    const op = /^(&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()[\]{}])/.exec(rest);
    if (!op) throw new CelError(`unexpected character ${JSON.stringify(c)}`);
    tokens.push({ t: "op", v: op[0] });
    i += op[0].length;
  }
  tokens.push({ t: "end", v: "" });
  return tokens;
}

class Parser {
  private position = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.position]!;
  }
  private next(): Token {
    return this.tokens[this.position++]!;
  }
  private accept(op: string): boolean {
    const token = this.peek();
    if (token.t === "op" && token.v === op) {
      this.position++;
      return true;
    }
    return false;
  }
  private expect(op: string): void {
    if (!this.accept(op)) throw new CelError(`expected ${op}, found ${JSON.stringify(this.peek().v)}`);
  }

  parse(): Node {
    const node = this.expression();
    if (this.peek().t !== "end") throw new CelError(`unexpected ${JSON.stringify(this.peek().v)}`);
    return node;
  }

  private expression(): Node {
    const test = this.or();
    if (!this.accept("?")) return test;
    const then = this.or();
    this.expect(":");
    return { k: "cond", test, then, else: this.expression() };
  }
  private or(): Node {
    let left = this.and();
    while (this.accept("||")) left = { k: "bin", op: "||", left, right: this.and() };
    return left;
  }
  private and(): Node {
    let left = this.relation();
    while (this.accept("&&")) left = { k: "bin", op: "&&", left, right: this.relation() };
    return left;
  }
  private relation(): Node {
    let left = this.addition();
    for (;;) {
      const token = this.peek();
      const op =
        token.t === "op" && ["<", "<=", ">", ">=", "==", "!="].includes(token.v)
          ? token.v
          : token.t === "id" && token.v === "in"
            ? "in"
            : undefined;
      if (!op) return left;
      this.position++;
      left = { k: "bin", op, left, right: this.addition() };
    }
  }
  private addition(): Node {
    let left = this.multiplication();
    for (;;) {
      if (this.accept("+")) left = { k: "bin", op: "+", left, right: this.multiplication() };
      else if (this.accept("-")) left = { k: "bin", op: "-", left, right: this.multiplication() };
      else return left;
    }
  }
  private multiplication(): Node {
    let left = this.unary();
    for (;;) {
      const token = this.peek();
      if (token.t === "op" && ["*", "/", "%"].includes(token.v)) {
        this.position++;
        left = { k: "bin", op: token.v, left, right: this.unary() };
      } else return left;
    }
  }
  private unary(): Node {
    if (this.accept("!")) return { k: "un", op: "!", arg: this.unary() };
    if (this.accept("-")) return { k: "un", op: "-", arg: this.unary() };
    return this.member();
  }
  private member(): Node {
    let node = this.primary();
    for (;;) {
      if (this.accept(".")) {
        const name = this.next();
        if (name.t !== "id") throw new CelError("expected a field name after .");
        if (this.accept("(")) node = { k: "call", name: name.v, target: node, args: this.args(")") };
        else node = { k: "sel", target: node, field: name.v };
      } else if (this.accept("[")) {
        const index = this.expression();
        this.expect("]");
        node = { k: "idx", target: node, index };
      } else return node;
    }
  }
  private args(close: string): Node[] {
    const args: Node[] = [];
    if (this.accept(close)) return args;
    do args.push(this.expression());
    while (this.accept(","));
    this.expect(close);
    return args;
  }
  private primary(): Node {
    const token = this.next();
    if (token.t === "num") {
      const value = Number(token.v);
      return { k: "lit", v: token.int ? value : value };
    }
    if (token.t === "str") return { k: "lit", v: token.v };
    if (token.t === "id") {
      if (token.v === "true" || token.v === "false") return { k: "lit", v: token.v === "true" };
      if (token.v === "null") return { k: "lit", v: null };
      if (this.accept("(")) return { k: "call", name: token.v, args: this.args(")") };
      return { k: "id", name: token.v };
    }
    if (token.t === "op" && token.v === "(") {
      const node = this.expression();
      this.expect(")");
      return node;
    }
    if (token.t === "op" && token.v === "[") return { k: "list", items: this.args("]") };
    if (token.t === "op" && token.v === "{") {
      const entries: [Node, Node][] = [];
      if (!this.accept("}")) {
        do {
          const key = this.expression();
          this.expect(":");
          entries.push([key, this.expression()]);
        } while (this.accept(","));
        this.expect("}");
      }
      return { k: "map", entries };
    }
    throw new CelError(`unexpected ${JSON.stringify(token.v)}`);
  }
}

function typeOf(value: Value): CelType {
  if (value === null) return TYPES.null_type!;
  if (value instanceof CelType) return TYPES.type!;
  if (typeof value === "boolean") return TYPES.bool!;
  if (typeof value === "number") return Number.isInteger(value) ? TYPES.int! : TYPES.double!;
  if (typeof value === "string") return TYPES.string!;
  if (Array.isArray(value)) return TYPES.list!;
  return TYPES.map!;
}

function isMap(value: Value): value is { [key: string]: Value } {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof CelType);
}

function equal(a: Value, b: Value): boolean {
  if (a instanceof CelType || b instanceof CelType)
    return a instanceof CelType && b instanceof CelType && a.name === b.name;
  if (Array.isArray(a) || Array.isArray(b))
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]!))
    );
  if (isMap(a) || isMap(b)) {
    if (!isMap(a) || !isMap(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && equal(a[k]!, b[k]!));
  }
  return a === b;
}

function noOverload(op: string, ...values: Value[]): never {
  throw new CelError(`no such overload: ${op}(${values.map((v) => typeOf(v).name).join(", ")})`);
}

const MACROS = new Set(["all", "exists", "exists_one", "filter", "map"]);

function evaluate(node: Node, scope: Map<string, Value>): Value {
  switch (node.k) {
    case "lit":
      return node.v;
    case "id": {
      if (scope.has(node.name)) return scope.get(node.name)!;
      if (node.name in TYPES) return TYPES[node.name]!;
      throw new CelError(`undeclared reference to '${node.name}'`);
    }
    case "sel": {
      const target = evaluate(node.target, scope);
      if (!isMap(target)) noOverload(`.${node.field}`, target);
      if (!(node.field in target)) throw new CelError(`no such key: ${node.field}`);
      return target[node.field]!;
    }
    case "idx": {
      const target = evaluate(node.target, scope);
      const index = evaluate(node.index, scope);
      if (Array.isArray(target) && typeof index === "number" && Number.isInteger(index)) {
        if (index < 0 || index >= target.length) throw new CelError(`index out of range: ${index}`);
        return target[index]!;
      }
      if (isMap(target) && typeof index === "string") {
        if (!(index in target)) throw new CelError(`no such key: ${index}`);
        return target[index]!;
      }
      return noOverload("_[_]", target, index);
    }
    case "list":
      return node.items.map((item) => evaluate(item, scope));
    case "map":
      return Object.fromEntries(
        node.entries.map(([key, value]) => {
          const k = evaluate(key, scope);
          if (typeof k !== "string") noOverload("map key", k);
          return [k, evaluate(value, scope)];
        }),
      );
    case "un": {
      const value = evaluate(node.arg, scope);
      if (node.op === "!") return typeof value === "boolean" ? !value : noOverload("!_", value);
      return typeof value === "number" ? -value : noOverload("-_", value);
    }
    case "cond": {
      const test = evaluate(node.test, scope);
      if (typeof test !== "boolean") noOverload("_?_:_", test);
      return evaluate(test ? node.then : node.else, scope);
    }
    case "bin":
      return binary(node.op, node.left, node.right, scope);
    case "call":
      return call(node, scope);
  }
}

/** && and || are commutative over errors: a decisive side wins whatever the other does. */
function logical(op: "&&" | "||", left: Node, right: Node, scope: Map<string, Value>): boolean {
  const decisive = op === "||";
  const side = (node: Node): { value?: boolean; error?: unknown } => {
    try {
      const value = evaluate(node, scope);
      if (typeof value !== "boolean") return { error: new CelError(`no such overload: _${op}_`) };
      return { value };
    } catch (error) {
      return { error };
    }
  };
  const a = side(left);
  if (a.value === decisive) return decisive;
  const b = side(right);
  if (b.value === decisive) return decisive;
  if (a.error) throw a.error;
  if (b.error) throw b.error;
  return !decisive;
}

function binary(op: string, leftNode: Node, rightNode: Node, scope: Map<string, Value>): Value {
  if (op === "&&" || op === "||") return logical(op, leftNode, rightNode, scope);
  const left = evaluate(leftNode, scope);
  const right = evaluate(rightNode, scope);
  switch (op) {
    case "==":
      return equal(left, right);
    case "!=":
      return !equal(left, right);
    case "in":
      if (Array.isArray(right)) return right.some((item) => equal(item, left));
      if (isMap(right)) return typeof left === "string" && left in right;
      return noOverload("_in_", left, right);
    case "<":
    case "<=":
    case ">":
    case ">=": {
      const comparable =
        (typeof left === "number" && typeof right === "number") ||
        (typeof left === "string" && typeof right === "string");
      if (!comparable) noOverload(`_${op}_`, left, right);
      const l = left as number | string;
      const r = right as number | string;
      return op === "<" ? l < r : op === "<=" ? l <= r : op === ">" ? l > r : l >= r;
    }
    case "+":
      if (typeof left === "number" && typeof right === "number") return left + right;
      if (typeof left === "string" && typeof right === "string") return left + right;
      if (Array.isArray(left) && Array.isArray(right)) return [...left, ...right];
      return noOverload("_+_", left, right);
    case "-":
    case "*":
    case "/":
    case "%": {
      if (typeof left !== "number" || typeof right !== "number") return noOverload(`_${op}_`, left, right);
      const ints = Number.isInteger(left) && Number.isInteger(right);
      if ((op === "/" || op === "%") && ints && right === 0) throw new CelError("division by zero");
      if (op === "-") return left - right;
      if (op === "*") return left * right;
      if (op === "/") return ints ? Math.trunc(left / right) : left / right;
      return left % right;
    }
  }
  throw new CelError(`unknown operator ${op}`);
}

function size(value: Value): number {
  if (typeof value === "string") return [...value].length;
  if (Array.isArray(value)) return value.length;
  if (isMap(value)) return Object.keys(value).length;
  return noOverload("size", value);
}

function call(node: Extract<Node, { k: "call" }>, scope: Map<string, Value>): Value {
  const { name, target, args } = node;
  if (name === "has" && !target) {
    const field = args[0];
    if (args.length !== 1 || field?.k !== "sel") throw new CelError("has() needs a field selection");
    const object = evaluate(field.target, scope);
    if (!isMap(object)) return noOverload("has", object);
    return field.field in object;
  }
  if (target && MACROS.has(name)) {
    const variable = args[0];
    if (variable?.k !== "id" || args.length !== 2)
      throw new CelError(`${name}() needs a variable and an expression`);
    const range = evaluate(target, scope);
    const items: Value[] = Array.isArray(range)
      ? range
      : isMap(range)
        ? Object.keys(range)
        : noOverload(name, range);
    const run = (item: Value) => evaluate(args[1]!, new Map(scope).set(variable.name, item));
    const predicate = (item: Value) => {
      const result = run(item);
      if (typeof result !== "boolean") noOverload(name, result);
      return result;
    };
    switch (name) {
      case "all": {
        // As && over the items: a false one wins over an error in another.
        let error: unknown;
        for (const item of items) {
          try {
            if (!predicate(item)) return false;
          } catch (e) {
            error ??= e;
          }
        }
        if (error) throw error;
        return true;
      }
      case "exists": {
        let error: unknown;
        for (const item of items) {
          try {
            if (predicate(item)) return true;
          } catch (e) {
            error ??= e;
          }
        }
        if (error) throw error;
        return false;
      }
      case "exists_one":
        return items.filter((item) => predicate(item)).length === 1;
      case "filter":
        return items.filter((item) => predicate(item));
      case "map":
        return items.map((item) => run(item));
    }
  }
  const receiver = target ? [evaluate(target, scope)] : [];
  const values = [...receiver, ...args.map((arg) => evaluate(arg, scope))];
  const [a, b] = values;
  switch (name) {
    case "size":
      if (values.length === 1) return size(a!);
      break;
    case "startsWith":
    case "endsWith":
    case "contains":
      if (typeof a === "string" && typeof b === "string")
        return name === "startsWith" ? a.startsWith(b) : name === "endsWith" ? a.endsWith(b) : a.includes(b);
      break;
    case "matches":
      if (typeof a === "string" && typeof b === "string") return new RegExp(b, "u").test(a);
      break;
    case "type":
      if (values.length === 1) return typeOf(a!);
      break;
    case "int":
      if (typeof a === "number") return Math.trunc(a);
      if (typeof a === "string" && /^-?\d+$/.test(a)) return Number(a);
      break;
    case "string":
      if (typeof a === "string" || typeof a === "number" || typeof a === "boolean") return String(a);
      break;
    default:
      throw new CelError(`undeclared reference to '${name}'`);
  }
  return noOverload(name, ...values);
}

const compiled = new Map<string, Node>();

/** Compiles (cached) and evaluates `rule`; throws CelError for a syntax or evaluation error. */
export function evaluateCel(rule: string, variables: Record<string, unknown>): unknown {
  let node = compiled.get(rule);
  if (!node) compiled.set(rule, (node = new Parser(tokenize(rule)).parse()));
  return evaluate(node, new Map(Object.entries(variables) as [string, Value][]));
}

/** Whether a rule is a transition rule (refers to oldSelf): evaluated on updates only. */
export function isTransitionRule(rule: string): boolean {
  return tokenize(rule).some((token) => token.t === "id" && token.v === "oldSelf");
}

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  "x-kubernetes-validations"?: { rule: string; message?: string }[];
  "x-kubernetes-int-or-string"?: boolean;
}

/**
 * The CEL rules of a CRD schema over an object (and, on an update, the old object): the failures
 * as Kubernetes words them, `<path>: Invalid value: "<type>": <message>`. Transition rules run only
 * where the old object has a value at the same place.
 */
export function celViolations(schema: SchemaNode, value: unknown, old: unknown, path = ""): string[] {
  const problems: string[] = [];
  if (value === undefined) return problems;
  // Validation ratcheting (GA in Kubernetes 1.33): a value the update leaves as it was is not
  // refused again, so objects stored under older rules can still be updated elsewhere.
  if (old !== undefined && deepEqual(value, old)) return problems;
  for (const { rule, message } of schema["x-kubernetes-validations"] ?? []) {
    const transition = isTransitionRule(rule);
    if (transition && old === undefined) continue;
    let passed: unknown;
    try {
      passed = evaluateCel(rule, transition ? { self: value, oldSelf: old } : { self: value });
    } catch (error) {
      problems.push(
        `${path}: Invalid value: "${schemaType(schema)}": rule ${rule} failed: ${(error as Error).message}`,
      );
      continue;
    }
    if (passed !== true)
      problems.push(`${path}: Invalid value: "${schemaType(schema)}": ${message ?? `failed rule: ${rule}`}`);
  }
  const child = (key: string) => (path ? `${path}.${key}` : key);
  if (schema.properties && value && typeof value === "object" && !Array.isArray(value)) {
    const object = value as Record<string, unknown>;
    const oldObject = (old && typeof old === "object" ? old : undefined) as
      Record<string, unknown> | undefined;
    for (const [key, sub] of Object.entries(schema.properties))
      problems.push(...celViolations(sub, object[key], oldObject?.[key], child(key)));
  } else if (
    typeof schema.additionalProperties === "object" &&
    value &&
    typeof value === "object" &&
    !Array.isArray(value)
  ) {
    const oldObject = (old && typeof old === "object" ? old : undefined) as
      Record<string, unknown> | undefined;
    for (const [key, item] of Object.entries(value as Record<string, unknown>))
      problems.push(...celViolations(schema.additionalProperties, item, oldObject?.[key], `${path}[${key}]`));
  } else if (schema.items && Array.isArray(value)) {
    // List items are not correlated with the old list here: transition rules inside are skipped.
    value.forEach((item, index) =>
      problems.push(...celViolations(schema.items!, item, undefined, `${path}[${index}]`)),
    );
  }
  return problems;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  return (
    keysA.length === keysB.length &&
    keysA.every((key) => deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
  );
}

function schemaType(schema: SchemaNode): string {
  if (schema["x-kubernetes-int-or-string"]) return "int-or-string";
  return schema.type ?? "object";
}
