// Arbitraries shared by the fuzz tests (fuzz-api, fuzz-socket): hostile text, random JSON values,
// deep nesting, huge numbers, and the contract's rules as oracles. Pure; no I/O.
//
// The oracles restate docs/rest-api.md, not the code: a name is 1 to 200 characters (code points, as
// PostgreSQL counts them), not blank, without NUL (PostgreSQL cannot store it) or unpaired
// surrogates (not Unicode text); a status is one of the five.

import fc from 'fast-check';
import { ORDER_STATUSES, type OrderStatus } from '../../src/contract/events.js';

export const MAX_NAME_CHARS = 200;
export const MAX_ID = Number.MAX_SAFE_INTEGER;

/** Single code points that break naive text handling: controls, Unicode spaces, bidi, joiners. */
// biome-ignore format: a list of characters reads best packed
const NASTY_CODE_POINTS = [
  '\u0000', '\u0001', '\u001b', '\u007f', '\u0085', '\t', '\n', '\r', ' ', '\u00a0', '\u1680', '\u2000',
  '\u2028', '\u2029', '\u3000', '\ufeff', '\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u202a',
  '\u202e', '\u2066', '\u2069', 'א', 'ع', '\u0301', '\u0336', 'ß', 'İ', 'ﬀ', '🚀', '👩', '🏽', '🇫',
  '\ufffd', '\ufffe', '\uffff', '\u{10ffff}', '\u{e0001}', '"', '\\', "'", '%', '<', '&', ';', '{', '$',
];

/** One code point: printable ASCII, any Unicode scalar value, or a nasty one. */
export const codePoint: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...NASTY_CODE_POINTS) },
);

/** Half of a surrogate pair on its own: JSON.stringify escapes it, the server decodes it back. */
export const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/** Any text, lone surrogates and NUL included, short or long (199, 200, 201 code points often). */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: fc.oneof(codePoint, loneSurrogate), maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\u0000',
      '\ud800',
      'a\udc00b',
      'pending ',
      'Shipped',
      '1',
      '-1',
      'null',
      '[]',
      "'); DROP TABLE orders;--",
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(codePoint, fc.oneof(fc.constantFrom(199, 200, 201), fc.integer({ min: 202, max: 5_000 })))
      .map(([c, n]) => c.repeat(n)),
  },
);

/** One code point repeated to the edges of a name's length: 0, 1, 199, 200, 201. */
export const edgeLengthText = fc
  .tuple(codePoint, fc.constantFrom(0, 1, MAX_NAME_CHARS - 1, MAX_NAME_CHARS, MAX_NAME_CHARS + 1))
  .map(([c, n]) => c.repeat(n));

/** Numbers at and beyond the edges (NaN and ±Infinity become null in JSON). */
export const edgeNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    0.5,
    1e-320,
    2 ** 31,
    2 ** 53,
    MAX_ID,
    MAX_ID + 2,
    -MAX_ID,
    1e21,
    1e308,
    -1e308,
    Number.MAX_VALUE,
    Number.NaN,
    Number.POSITIVE_INFINITY,
  ),
  fc.double(),
  fc.integer(),
);

/** JSON text of numbers JSON.stringify cannot write: beyond double range, or beyond 2^53. */
export const hugeNumberText = fc.constantFrom(
  '1e309',
  '-1e309',
  '1e400',
  '123456789012345678901234567890',
  '9007199254740993',
  '-0',
  '0.00000000000000000000000000001',
  '1E+2',
);

/** Random JSON values whose strings are hostile text. */
export const jsonValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3, stringUnit: fc.oneof(codePoint, loneSurrogate) }) },
  { weight: 1, arbitrary: edgeNumber },
  { weight: 1, arbitrary: hostileText },
);

/** `depth` levels of arrays or objects around `leaf`, built without recursion. */
export function nested(depth: number, kind: 'array' | 'object', leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { a: value };
  return value;
}

/** The JSON text of `nested(depth, kind, leaf)`, for depths JSON.stringify cannot reach. */
export function nestedText(depth: number, kind: 'array' | 'object', leafText: string): string {
  return kind === 'array'
    ? `${'['.repeat(depth)}${leafText}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}${leafText}${'}'.repeat(depth)}`;
}

export const nestingKind = fc.constantFrom('array' as const, 'object' as const);

/** A valid name: 1–200 code points of anything but NUL and lone surrogates, not blank. */
export const validName: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 9, arbitrary: fc.string({ unit: codePoint, minLength: 1, maxLength: MAX_NAME_CHARS }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '🚀'.repeat(MAX_NAME_CHARS),
        'x'.repeat(MAX_NAME_CHARS),
        '\u{10ffff}'.repeat(MAX_NAME_CHARS),
        '\u202eالطلب\u202c',
        ' leading and trailing spaces ',
        '👩\u200d👩\u200d👧\u200d👦',
        '\ufeff',
      ),
    },
  )
  .filter(isValidName);

export const validStatus = fc.constantFrom(...ORDER_STATUSES);

export function isValidName(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.trim() !== '' &&
    !value.includes('\u0000') &&
    !/\p{Cs}/u.test(value) &&
    [...value].length <= MAX_NAME_CHARS
  );
}

export function isStatus(value: unknown): value is OrderStatus {
  return typeof value === 'string' && (ORDER_STATUSES as readonly string[]).includes(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `value` is a whole number in [min, max]. */
export function isWholeIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** What the receiver sees of `value` after JSON (undefined members dropped, NaN → null). */
export function throughJson(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
}

/** `JSON.parse`, or undefined for text that is not JSON. */
export function tryParse(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}
