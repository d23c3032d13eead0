// The run-time part of the checks in client/wire.ts: the generated checks call these two walkers,
// so they are written here once instead of being printed by client/build/wire-codegen.ts into
// its output.

/** undefined when the value is valid, else what is wrong with it. */
export type Check = (value: unknown) => string | undefined;
type Field = [name: string, required: 0 | 1, check: Check];

export function object(value: unknown, closed: boolean, fields: Field[]): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "expected an object";
  const record = value as Record<string, unknown>;
  for (const [name, required, check] of fields) {
    if (!Object.hasOwn(record, name)) {
      if (required) return `missing field '${name}'`;
      continue;
    }
    const problem = check(record[name]);
    if (problem !== undefined) return `field '${name}': ${problem}`;
  }
  if (closed) {
    const extra = Object.getOwnPropertyNames(record).find((key) => !fields.some(([name]) => name === key));
    if (extra !== undefined) return `unknown field '${extra}'`;
  }
  return undefined;
}

export function array(value: unknown, min: number, max: number, check: Check): string | undefined {
  if (!Array.isArray(value)) return "expected an array";
  if (value.length < min || value.length > max) return `expected ${min} to ${max} items`;
  for (const [index, item] of value.entries()) {
    const problem = check(item);
    if (problem !== undefined) return `item ${index}: ${problem}`;
  }
  return undefined;
}
