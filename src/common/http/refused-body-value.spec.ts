import { findRefusedValue, MAX_BODY_DEPTH, MAX_BODY_VALUES, MAX_OBJECT_KEYS } from './refused-body-value.js';

/** `{"a":[{"a":[…]}]}` style nesting: `levels` objects and arrays around `inner`. */
function nested(levels: number, inner: unknown = 1): unknown {
  let value = inner;
  for (let i = 0; i < levels; i++) value = i % 2 ? { a: value } : [value];
  return value;
}

describe('findRefusedValue', () => {
  it('accepts flat and moderately nested bodies, numbers, booleans, null and well-formed text', () => {
    expect(findRefusedValue({ email: 'a@b.c', n: 1, ok: true, none: null, list: [1, 'x', { y: 'é😀' }] })).toBeUndefined();
    expect(findRefusedValue(nested(MAX_BODY_DEPTH))).toBeUndefined();
    expect(findRefusedValue(new Array(MAX_BODY_VALUES).fill(1.5))).toBeUndefined();
    expect(findRefusedValue(42)).toBeUndefined();
  });

  it('refuses nesting past MAX_BODY_DEPTH, naming the first container too deep', () => {
    expect(findRefusedValue({ email: nested(MAX_BODY_DEPTH) })).toEqual({
      field: `email${'.a[0]'.repeat(MAX_BODY_DEPTH / 2 - 1)}.a`,
      message: expect.stringMatching(/^email\.a\[0\]\.a.* is nested more than 32 levels deep$/),
    });
    expect(findRefusedValue(nested(100_000))?.message).toMatch(/is nested more than 32 levels deep$/);
  });

  it('refuses a body of more than MAX_BODY_VALUES values in all, at any depth, as (body)', () => {
    const refused = { field: '(body)', message: '(body) holds more than 1000 values' };
    expect(findRefusedValue(new Array(MAX_BODY_VALUES + 1).fill(1.5))).toEqual(refused);
    expect(findRefusedValue(new Array(100_000).fill(1.5))).toEqual(refused);
    // Within every per-object limit: 10 properties of 10 arrays of 10 (1,110 values).
    const tens = (make: () => unknown) => Array.from({ length: 10 }, make);
    expect(findRefusedValue(Object.fromEntries(tens(() => 0).map((_, i) => [`k${i}`, tens(() => tens(() => 1))])))).toEqual(refused);
    // Every property's value and array item counts: `a`, its 10 items and their 98 properties each (991).
    expect(findRefusedValue({ a: tens(() => Object.fromEntries(Array.from({ length: 98 }, (_, i) => [`k${i}`, 1]))) })).toBeUndefined();
    expect(findRefusedValue({ a: tens(() => Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, 1]))) })).toEqual(refused);
  });

  it('refuses an object of more than MAX_OBJECT_KEYS properties, naming it', () => {
    const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    expect(findRefusedValue(keys(MAX_OBJECT_KEYS))).toBeUndefined();
    expect(findRefusedValue(keys(MAX_OBJECT_KEYS + 1))).toEqual({ field: '(body)', message: '(body) has more than 100 properties' });
    expect(findRefusedValue({ a: [1, keys(100_000)] })).toEqual({ field: 'a[1]', message: 'a[1] has more than 100 properties' });
  });

  it('refuses __proto__ and the names of Object.prototype\'s members (class-transformer drops them unseen), as the pipe words an unknown property', () => {
    expect(findRefusedValue(JSON.parse('{"__proto__": {"a": 1}}'))).toEqual({ field: '__proto__', message: 'property __proto__ should not exist' });
    expect(findRefusedValue({ a: [{ constructor: 1 }] })).toEqual({ field: 'a[0].constructor', message: 'property a[0].constructor should not exist' });
    expect(findRefusedValue({ notes: 'x', toString: 'y' })).toEqual({ field: 'toString', message: 'property toString should not exist' });
    expect(findRefusedValue({ a: { hasOwnProperty: 1 } })).toEqual({ field: 'a.hasOwnProperty', message: 'property a.hasOwnProperty should not exist' });
    expect(findRefusedValue({ proto: 1, constructors: 2, prototype: 3 })).toBeUndefined();
  });

  it('refuses text PostgreSQL cannot store, in a value or a key, with its path', () => {
    expect(findRefusedValue({ a: { b: ['ok', 'x\u0000y'] } })).toEqual({ field: 'a.b[1]', message: 'a.b[1] must not contain NUL characters' });
    expect(findRefusedValue({ a: { ['k\ud800']: 1 } })).toEqual({ field: 'a.k\ud800', message: 'a.k\ud800 name must be well-formed Unicode' });
    expect(findRefusedValue('\u0000')).toEqual({ field: '(body)', message: '(body) must not contain NUL characters' });
    expect(findRefusedValue(['\ud800'])).toEqual({ field: '[0]', message: '[0] must be well-formed Unicode' });
  });
});
