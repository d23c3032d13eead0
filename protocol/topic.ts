// Topics and entitlement patterns (docs/design.md#vocabulary).
// A topic is 1–8 dot-separated tokens of [A-Za-z0-9_\-:@=+]{1,64}, at most 255 bytes.
// Patterns may use `*` (exactly one token) and `>` (one or more trailing tokens), as in NATS.

export const MAX_TOPIC_BYTES = 255;
export const MAX_TOPIC_TOKENS = 8;
export const MAX_TOKEN_LENGTH = 64;

const TOKEN = /^[A-Za-z0-9_\-:@=+]{1,64}$/;

/** Why `topic` is not a valid topic, or undefined when it is. Messages are meant for people. */
export function topicProblem(topic: unknown): string | undefined {
  if (typeof topic !== "string") return "topic must be a string";
  if (topic.length === 0) return "topic must not be empty";
  // All allowed characters are ASCII, so length in UTF-16 units bounds the byte length from below;
  // any non-ASCII character fails the token check anyway.
  if (topic.length > MAX_TOPIC_BYTES) return `topic is longer than ${MAX_TOPIC_BYTES} bytes`;
  const tokens = topic.split(".");
  if (tokens.length > MAX_TOPIC_TOKENS) return `topic has more than ${MAX_TOPIC_TOKENS} dot-separated tokens`;
  for (const token of tokens) {
    if (token.length === 0) return "topic has an empty token (leading, trailing or double dot)";
    if (token === "*" || token === ">" || token.includes("*") || token.includes(">")) {
      return "topic must not contain wildcards (* or >); they are only allowed in entitlement patterns";
    }
    if (token.length > MAX_TOKEN_LENGTH) return `topic token is longer than ${MAX_TOKEN_LENGTH} characters`;
    if (!TOKEN.test(token)) return "topic tokens may only contain A-Z a-z 0-9 _ - : @ = +";
  }
  return undefined;
}

export function isTopic(topic: unknown): topic is string {
  return topicProblem(topic) === undefined;
}

/** Why `pattern` is not a valid entitlement pattern, or undefined when it is. */
export function patternProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== "string") return "pattern must be a string";
  if (pattern.length === 0) return "pattern must not be empty";
  if (pattern.length > MAX_TOPIC_BYTES) return `pattern is longer than ${MAX_TOPIC_BYTES} bytes`;
  const tokens = pattern.split(".");
  if (tokens.length > MAX_TOPIC_TOKENS) return `pattern has more than ${MAX_TOPIC_TOKENS} tokens`;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === "*") continue;
    if (token === ">") {
      if (i !== tokens.length - 1) return "'>' may only be the last token of a pattern";
      continue;
    }
    if (token.length === 0) return "pattern has an empty token";
    if (token.length > MAX_TOKEN_LENGTH) return `pattern token is longer than ${MAX_TOKEN_LENGTH} characters`;
    if (!TOKEN.test(token)) return "pattern tokens may only contain A-Z a-z 0-9 _ - : @ = + or be * or >";
  }
  return undefined;
}

/** Whether `topic` matches the NATS-style `pattern`. Both must be valid; an invalid pattern never matches. */
export function topicMatches(pattern: string, topic: string): boolean {
  if (patternProblem(pattern) !== undefined) return false;
  const p = pattern.split(".");
  const t = topic.split(".");
  for (let i = 0; i < p.length; i++) {
    const token = p[i]!;
    if (token === ">") return t.length > i;
    if (i >= t.length) return false;
    if (token !== "*" && token !== t[i]) return false;
  }
  return p.length === t.length;
}

export function matchesAny(patterns: readonly string[], topic: string): boolean {
  return patterns.some((pattern) => topicMatches(pattern, topic));
}
