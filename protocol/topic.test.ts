// Topics, entitlement patterns and matching (docs/design.md#vocabulary), with the exact messages.
import test from "ava";
import { isTopic, matchesAny, patternProblem, topicMatches, topicProblem } from "./topic.js";

const token64 = "a".repeat(64);

test("valid topics", (t) => {
  for (const topic of [
    "a",
    "scores.football.match-42",
    "user.7f3a.inbox",
    "A-Z_a-z:0-9@x=y+z",
    "a.b.c.d.e.f.g.h",
    token64,
    // 255 bytes exactly: 3 tokens of 64 and one of 60, joined by 3 dots.
    [token64, token64, token64, "b".repeat(60)].join("."),
  ]) {
    t.is(topicProblem(topic), undefined, topic);
    t.true(isTopic(topic));
  }
});

test("invalid topics, each with its reason", (t) => {
  const cases: [unknown, string][] = [
    [undefined, "topic must be a string"],
    [42, "topic must be a string"],
    [["a"], "topic must be a string"],
    ["", "topic must not be empty"],
    [[token64, token64, token64, "b".repeat(61)].join("."), "topic is longer than 255 bytes"],
    ["a.b.c.d.e.f.g.h.i", "topic has more than 8 dot-separated tokens"],
    [".a", "topic has an empty token (leading, trailing or double dot)"],
    ["a.", "topic has an empty token (leading, trailing or double dot)"],
    ["a..b", "topic has an empty token (leading, trailing or double dot)"],
    ["a.*", "topic must not contain wildcards (* or >); they are only allowed in entitlement patterns"],
    [">", "topic must not contain wildcards (* or >); they are only allowed in entitlement patterns"],
    ["a.b*c", "topic must not contain wildcards (* or >); they are only allowed in entitlement patterns"],
    ["a.x>", "topic must not contain wildcards (* or >); they are only allowed in entitlement patterns"],
    [`${token64}a`, "topic token is longer than 64 characters"],
    ["a b", "topic tokens may only contain A-Z a-z 0-9 _ - : @ = +"],
    ["café", "topic tokens may only contain A-Z a-z 0-9 _ - : @ = +"],
    ["a/b", "topic tokens may only contain A-Z a-z 0-9 _ - : @ = +"],
    ["a\u0000b", "topic tokens may only contain A-Z a-z 0-9 _ - : @ = +"],
    ["a\nb", "topic tokens may only contain A-Z a-z 0-9 _ - : @ = +"],
    ["\ud800", "topic tokens may only contain A-Z a-z 0-9 _ - : @ = +"],
  ];
  for (const [topic, reason] of cases) {
    t.is(topicProblem(topic), reason, JSON.stringify(topic));
    t.false(isTopic(topic));
  }
});

test("valid and invalid patterns", (t) => {
  for (const pattern of [">", "*", "a.>", "a.*.c", "*.*.>", "user.7f3a.inbox", "a.b.c.d.e.f.g.>"]) {
    t.is(patternProblem(pattern), undefined, pattern);
  }
  const cases: [unknown, string][] = [
    [null, "pattern must be a string"],
    [{}, "pattern must be a string"],
    ["", "pattern must not be empty"],
    ["a".repeat(256), "pattern is longer than 255 bytes"],
    ["a.b.c.d.e.f.g.h.>", "pattern has more than 8 tokens"],
    [">.a", "'>' may only be the last token of a pattern"],
    ["a.>.>", "'>' may only be the last token of a pattern"],
    ["a..b", "pattern has an empty token"],
    ["a.", "pattern has an empty token"],
    [`${token64}a.>`, "pattern token is longer than 64 characters"],
    ["a*.b", "pattern tokens may only contain A-Z a-z 0-9 _ - : @ = + or be * or >"],
    ["a.b>", "pattern tokens may only contain A-Z a-z 0-9 _ - : @ = + or be * or >"],
    ["a b", "pattern tokens may only contain A-Z a-z 0-9 _ - : @ = + or be * or >"],
  ];
  for (const [pattern, reason] of cases) t.is(patternProblem(pattern), reason, JSON.stringify(pattern));
});

test("matching: * is exactly one token, > is one or more trailing tokens", (t) => {
  const cases: [string, string, boolean][] = [
    ["a.b", "a.b", true],
    ["a.b", "a.b.c", false],
    ["a.b", "a", false],
    ["a.*", "a.b", true],
    ["a.*", "a", false],
    ["a.*", "a.b.c", false],
    ["*.b", "a.b", true],
    ["*.b", "a.c", false],
    ["*", "a", true],
    ["*", "a.b", false],
    ["a.>", "a.b", true],
    ["a.>", "a.b.c.d", true],
    ["a.>", "a", false],
    ["a.>", "b.c", false],
    [">", "a", true],
    [">", "a.b.c.d.e.f.g.h", true],
    ["a.*.c.>", "a.x.c.d", true],
    ["a.*.c.>", "a.x.c", false],
    ["a.*.c.>", "a.x.d.e", false],
    ["user.7f3a.inbox", "user.7f3a.inbox", true],
    ["user.7f3a.inbox", "user.7f3b.inbox", false],
    ["a.b", "A.b", false],
  ];
  for (const [pattern, topic, expected] of cases)
    t.is(topicMatches(pattern, topic), expected, `${pattern} ~ ${topic}`);
});

test("an invalid pattern never matches, not even the same text", (t) => {
  t.false(topicMatches("a..b", "a..b"));
  t.false(topicMatches(">.a", "x.a"));
  t.false(topicMatches("", ""));
});

test("matchesAny: some pattern of the list matches", (t) => {
  t.true(matchesAny(["x.>", "a.*"], "a.b"));
  t.false(matchesAny(["x.>", "a.*"], "a.b.c"));
  t.false(matchesAny([], "a"));
});
