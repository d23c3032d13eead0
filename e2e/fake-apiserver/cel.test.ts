// The fake API server's CEL evaluator keeps CEL's semantics for the rules CRDs are written in,
// and applies them as the API server does (transition rules on updates only, ratcheting).
import test from "ava";
import { celViolations, evaluateCel, isTransitionRule } from "./cel.js";

test("literals, operators, field selection and has()", (t) => {
  const self = { a: 2, b: "x", list: [1, 2, 3], map: { k: "v" }, nested: { n: 1 } };
  const cases: [string, unknown][] = [
    ["self.a * 2 + 1 == 5", true],
    ["7 / 2", 3], // integer division truncates
    ["7 % 3", 1],
    ["-self.a", -2],
    ["self.b + 'y'", "xy"],
    ["self.a >= 2 && self.b != 'z'", true],
    ["!(self.a < 1) ? 'big' : 'small'", "big"],
    ["has(self.nested.n) && !has(self.nested.m)", true],
    ["'k' in self.map && !('j' in self.map)", true],
    ["2 in self.list", true],
    ["self.list[1]", 2],
    ["self.map['k']", "v"],
    ["size(self.list) == 3 && self.b.size() == 1", true],
    ["[1, 2] + [3] == self.list", true],
    ["{'k': 'v'} == self.map", true],
    ["self.b.startsWith('x') && 'abc'.endsWith('bc') && 'abc'.contains('b')", true],
    ["'50%'.matches('^[0-9]+%$')", true],
    ["type(self.a) == int && type(self.b) == string && type(1.5) == double", true],
    ["int('42') + 1", 43],
    ["string(5) == '5'", true],
    [`r'a\\b' == 'a\\\\b'`, true],
  ];
  for (const [rule, expected] of cases) t.deepEqual(evaluateCel(rule, { self }), expected, rule);
});

test("macros: all, exists, exists_one, filter, map over lists and map keys", (t) => {
  const self = { env: [{ name: "A" }, { name: "HERALD_X" }], labels: { a: "1", b: "2" } };
  t.false(evaluateCel("self.env.all(e, !e.name.startsWith('HERALD_'))", { self }) as boolean);
  t.true(evaluateCel("self.env.exists(e, e.name == 'A')", { self }) as boolean);
  t.true(evaluateCel("self.env.exists_one(e, e.name.startsWith('H'))", { self }) as boolean);
  t.deepEqual(evaluateCel("self.env.filter(e, e.name != 'A').map(e, e.name)", { self }), ["HERALD_X"]);
  t.true(evaluateCel("self.labels.all(k, k.size() == 1)", { self }) as boolean);
  t.is(evaluateCel("[true, false, true].filter(x, x).size()", {}), 2);
});

test("errors: an absent field is an error, absorbed by && and || where the other side decides", (t) => {
  const self = { a: 1 };
  t.throws(() => evaluateCel("self.missing == 1", { self }), { message: /no such key: missing/ });
  t.false(evaluateCel("false && self.missing == 1", { self }) as boolean);
  t.false(evaluateCel("self.missing == 1 && false", { self }) as boolean, "commutative");
  t.true(evaluateCel("self.missing == 1 || true", { self }) as boolean);
  t.throws(() => evaluateCel("self.missing == 1 || false", { self }));
  t.throws(() => evaluateCel("self.a + 'x'", { self }), { message: /no such overload/ });
  t.throws(() => evaluateCel("self.a / 0", { self }), { message: /division by zero/ });
  t.throws(() => evaluateCel("unknownVar", {}), { message: /undeclared reference/ });
  t.throws(() => evaluateCel("self.a ==", { self }));
});

const schema = {
  type: "object",
  properties: {
    spec: {
      type: "object",
      properties: {
        stream: {
          type: "object",
          properties: { storage: { type: "string" } },
          "x-kubernetes-validations": [
            { rule: "self.storage == oldSelf.storage", message: "storage is immutable" },
          ],
        },
        limits: {
          type: "object",
          properties: { a: { type: "integer" }, b: { type: "integer" } },
          "x-kubernetes-validations": [
            { rule: "self.a >= 2 * self.b", message: "a must be at least twice b" },
          ],
        },
      },
    },
  },
};

test("rules as the API server applies them: paths, transition rules on updates only, ratcheting", (t) => {
  const object = (storage: string, a: number) => ({ spec: { stream: { storage }, limits: { a, b: 2 } } });
  t.deepEqual(celViolations(schema, object("file", 4), undefined), [], "create: transition rules do not run");
  t.deepEqual(celViolations(schema, object("file", 3), undefined), [
    'spec.limits: Invalid value: "object": a must be at least twice b',
  ]);
  t.deepEqual(celViolations(schema, object("memory", 4), object("file", 4)), [
    'spec.stream: Invalid value: "object": storage is immutable',
  ]);
  t.deepEqual(
    celViolations(schema, object("file", 3), object("file", 3)),
    [],
    "ratcheting: an unchanged invalid value stored under older rules is not refused again",
  );
  t.is(celViolations(schema, object("file", 3), object("file", 1)).length, 1, "a changed one is");
  t.true(isTransitionRule("self.x == oldSelf.x"));
  t.false(isTransitionRule("self.oldSelfish == 1"));
});
