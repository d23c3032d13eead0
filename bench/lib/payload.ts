// The one message body every server under test carries: 100 bytes of JSON text holding its send
// time (wall clock, ms, shared by all processes on the machine) and its number within its topic
// (so a subscriber of any server can count losses and reorderings without a protocol of its own).
export const PAYLOAD_BYTES = 100;

export const wallClock = (): number => performance.timeOrigin + performance.now();

export function payload(n: number, sentAt = wallClock()): string {
  const head = `{"t":${sentAt.toFixed(3)},"n":${n},"p":"`;
  return head + "x".repeat(Math.max(0, PAYLOAD_BYTES - head.length - 2)) + `"}`;
}

/**
 * Reads `t` and `n` of the payload starting at or after `from` in `text`, without parsing the
 * rest (a subscriber handles hundreds of thousands of frames a second); undefined when absent.
 */
export function readPayload(text: string, from = 0): { t: number; n: number; end: number } | undefined {
  const at = text.indexOf('{"t":', from);
  if (at < 0) return undefined;
  const comma = text.indexOf(",", at + 5);
  const nAt = comma + 5;
  const nEnd = text.indexOf(",", nAt);
  return { t: Number(text.slice(at + 5, comma)), n: Number(text.slice(nAt, nEnd)), end: nEnd };
}
