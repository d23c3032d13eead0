// Numbers are delivered as sent or refused, never changed: which literals a double holds exactly
// (as the same decimal value), and how a pub frame holding another one is answered.
import test from "ava";
import { InexactNumber, mayHoldInexactNumbers, parseMarkingInexact, sameDecimal } from "./json-numbers.js";
import { parseClientFrame } from "./parse-client-frame.js";

const EXACT = [
  "0",
  "-0",
  "1",
  "1.0",
  "1E2",
  "100",
  "0.1",
  "-2.5e-3",
  "0.30000000000000004",
  "9007199254740991",
  "-9007199254740992",
  "123456789012345680000",
  "1e21",
  "1.7976931348623157e308",
  "5e-324",
  "0e99999999999999999999",
];
const INEXACT = [
  "12345678901234567891",
  "9007199254740993",
  "1e-400",
  "3e-324",
  "123456789.123456789",
  "0.1000000000000000000001",
  "1.00000000000000001",
];

test("literals a double holds as the same decimal value pass; others are told apart", (t) => {
  for (const literal of EXACT) t.true(sameDecimal(literal, JSON.parse(literal) as number), literal);
  for (const literal of INEXACT) t.false(sameDecimal(literal, JSON.parse(literal) as number), literal);
});

test("the quick check never misses a literal that parsing changes", (t) => {
  for (const literal of INEXACT) t.true(mayHoldInexactNumbers(`{"data":${literal}}`), literal);
  t.false(mayHoldInexactNumbers('{"op":"pub","topic":"a.b","data":{"n":123456789012345,"x":0.25}}'));
});

test("parsing marks the numbers it changed, wherever they are, and leaves the rest as JSON.parse does", (t) => {
  const parsed = parseMarkingInexact(
    '{"a":[1,12345678901234567891,{"b":1e-400}],"c":"1e-400","d":1e400}',
  ) as {
    a: [number, InexactNumber, { b: InexactNumber }];
    c: string;
    d: number;
  };
  t.is(parsed.a[0], 1);
  t.deepEqual(parsed.a[1], new InexactNumber("12345678901234567891", 12345678901234567000));
  t.deepEqual(parsed.a[2].b, new InexactNumber("1e-400", 0));
  t.is(parsed.c, "1e-400", "strings are data");
  t.is(parsed.d, Infinity, "beyond the range: refused as such by jsonDataProblem");
});

test("a pub frame holding such a number is refused with the number and what it would have become", (t) => {
  t.deepEqual(parseClientFrame('{"op":"pub","topic":"a.b","id":1,"data":{"n":12345678901234567891}}'), {
    ok: false,
    fatal: false,
    code: "invalid_frame",
    message:
      "pub frame: field 'data' holds the number 12345678901234567891, which a double cannot hold exactly (it would arrive as 12345678901234567000); send it as a string",
    id: 1,
  });
  const tiny = parseClientFrame(`{"op":"pub","topic":"a.b","id":2,"data":[0.${"0".repeat(400)}1]}`);
  t.like(tiny, { ok: false, code: "invalid_frame", id: 2 });
  t.regex(
    (tiny as { message: string }).message,
    /holds the number 0\.0{38}\.\.\., .* \(it would arrive as 0\)/,
  );
  const exact = parseClientFrame('{"op":"pub","topic":"a.b","id":3,"data":[9007199254740991,1.0,1E2]}');
  t.like(exact, { ok: true, frame: { data: [9007199254740991, 1, 100] } });
  // Only pub frames carry data; a long number elsewhere is the schema's business, as before.
  t.like(parseClientFrame('{"op":"ping","id":12345678901234567891}'), { ok: false, code: "invalid_frame" });
});
