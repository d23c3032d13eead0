// Numbers that would not arrive as they were sent. JSON.parse reads every number as a double, and
// data is stored as the JSON text of what was parsed: 12345678901234567891 would be delivered as
// 12345678901234567000 and 1e-400 as 0, silently. Such numbers are refused instead (with the number
// and what it would have become), so that data is delivered as sent or not at all.
//
// "As sent" means the same decimal value: 1.0 arriving as 1, or 1E2 as 100, is the same number;
// 0.1 arrives as 0.1. A literal is refused when the shortest decimal that reads back as the parsed
// double (what JSON.stringify writes) has another value than the literal itself.
//
// The check costs a second parse, with a reviver that sees each number's source text, but only for
// a text that may hold such a number at all: one with 16 or more digits and points in a row, or an
// exponent. Below 16 significant digits every decimal in a double's range round-trips.

/** Where a number was read that a double does not hold exactly: what was sent and what it became. */
export class InexactNumber {
  constructor(
    readonly source: string,
    readonly value: number,
  ) {}

  /** The refusal, for an err frame or an HTTP 400 (the source cut to a readable length). */
  describe(): string {
    const sent = this.source.length > 40 ? `${this.source.slice(0, 40)}...` : this.source;
    return `holds the number ${sent}, which a double cannot hold exactly (it would arrive as ${JSON.stringify(this.value)}); send it as a string`;
  }
}

const MAY_BE_INEXACT = /[0-9.]{16}|[0-9][eE]/;

/** Whether `text` may hold a number that parsing changes (false: it certainly does not). */
export function mayHoldInexactNumbers(text: string): boolean {
  return MAY_BE_INEXACT.test(text);
}

/**
 * Parses JSON text as JSON.parse does, except that every finite number whose value parsing changed
 * becomes an InexactNumber (numbers beyond the double range stay ±Infinity, refused as such).
 */
export function parseMarkingInexact(text: string): unknown {
  return JSON.parse(text, (_key: string, value: unknown, context?: { source?: string }) => {
    if (typeof value !== "number" || !Number.isFinite(value) || context?.source === undefined) return value;
    return sameDecimal(context.source, value) ? value : new InexactNumber(context.source, value);
  });
}

/** Whether the JSON number literal `source` has the same decimal value as the double `value`'s shortest form. */
export function sameDecimal(source: string, value: number): boolean {
  const shortest = JSON.stringify(value);
  // Most literals are already the shortest form: equal text, no canonical form needed.
  return source === shortest || canonical(source) === canonical(shortest);
}

/** A decimal literal as sign, significant digits and the position of the point: "-12.50e1" → "-125e2". */
function canonical(literal: string): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!match) return literal;
  const [, sign, int, frac = "", exponent = "0"] = match;
  let digits = int! + frac;
  // BigInt: an exponent of any length is compared exactly.
  let point = BigInt(int!.length) + BigInt(exponent);
  const leading = digits.length - digits.replace(/^0+/, "").length;
  digits = digits.slice(leading).replace(/0+$/, "");
  point -= BigInt(leading);
  return digits === "" ? "0" : `${sign}${digits}e${point}`;
}
