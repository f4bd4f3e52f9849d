import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { etagMatches, notModifiedSince, parseHttpDate, parseRange } from './http-range.js';

describe('parseRange', () => {
  const size = 1000;
  it.each([
    ['bytes=0-99', { start: 0, end: 99 }],
    ['bytes=100-', { start: 100, end: 999 }],
    ['bytes=-10', { start: 990, end: 999 }],
    ['bytes=-5000', { start: 0, end: 999 }],
    ['bytes=900-5000', { start: 900, end: 999 }],
    ['bytes=999-999', { start: 999, end: 999 }],
  ])('%s → a single range', (header, range) => {
    expect(parseRange(header, size)).toEqual({ kind: 'range', range });
  });

  it.each(['bytes=1000-', 'bytes=5000-6000', 'bytes=-0'])('%s → unsatisfiable', (header) => {
    expect(parseRange(header, size)).toEqual({ kind: 'unsatisfiable' });
  });

  it.each([undefined, '', 'bytes=0-1,5-6', 'items=0-1', 'bytes=abc', 'bytes=-', 'bytes=20-10'])(
    '%s → ignored (whole file)',
    (header) => {
      expect(parseRange(header, size)).toEqual({ kind: 'none' });
    },
  );

  it('blanks around the numbers and the dash are allowed, as before', () => {
    expect(parseRange('bytes= 10 - 19 ', size)).toEqual({ kind: 'range', range: { start: 10, end: 19 } });
    expect(parseRange('bytes= - 10', size)).toEqual({ kind: 'range', range: { start: 990, end: 999 } });
    expect(parseRange('bytes=10 -', size)).toEqual({ kind: 'range', range: { start: 10, end: 999 } });
  });

  it.each([
    ['blanks on both sides of the dash', `bytes=${' '.repeat(8000)}-${' '.repeat(8000)}x`],
    ['blanks and digits', `bytes=${' '.repeat(5000)}1${' '.repeat(5000)}-${' '.repeat(5000)}2${' '.repeat(5000)}x`],
  ])('a 16 KB header of %s that does not match is ignored (the regex does not backtrack over the blanks)', (_what, header) => {
    expect(parseRange(header, size)).toEqual({ kind: 'none' });
  });

  it('an empty file has no satisfiable range', () => {
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
  });
});

describe('etagMatches', () => {
  const etag = '"abc"';
  it.each([
    ['"abc"', true],
    ['W/"abc"', true],
    ['"x", "abc"', true],
    ['*', true],
    ['"abcd"', false],
    [undefined, false],
  ])('%s → %s', (header, expected) => {
    expect(etagMatches(header, etag)).toBe(expected);
  });
});

describe('parseHttpDate', () => {
  const expected = Date.UTC(1994, 10, 6, 8, 49, 37);
  it.each(['Sun, 06 Nov 1994 08:49:37 GMT', 'Sunday, 06-Nov-94 08:49:37 GMT', 'Sun Nov  6 08:49:37 1994'])('%s (RFC 9110 §5.6.7) → the date in UTC', (value) => {
    expect(parseHttpDate(value)).toBe(expected);
  });

  // Jest's process.env is a copy, so TZ cannot be changed in here: the built function is called in a
  // node whose local time is not UTC (where Date.parse reads a zone-less date as local time).
  it('asctime is read as UTC on a server whose local time is not UTC', () => {
    const built = resolve('dist/src/modules/documents/http-range.js'); // `npm test` builds first
    if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build first`);
    const script = `import { parseHttpDate } from ${JSON.stringify(pathToFileURL(built).href)};
      console.log(JSON.stringify([new Date(1994, 10, 6, 8, 49, 37).getTime(), parseHttpDate('Sun Nov  6 08:49:37 1994')]));`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH, TZ: 'Asia/Kolkata' } });
    const [localReading, parsed] = JSON.parse(output.toString()) as number[];
    expect(localReading).not.toBe(expected); // the zone took effect
    expect(parsed).toBe(expected);
  });

  it.each([undefined, '', 'yesterday', '1994-11-06T08:49:37Z', '0', 'Sun, 06 Nov 1994 08:49:37 CET', 'Sun, 06 Nov 1994'])('%s → not a date', (value) => {
    expect(parseHttpDate(value)).toBeUndefined();
  });
});

describe('notModifiedSince', () => {
  // Last-Modified goes out in whole seconds: the copy stamped with it is current.
  const modifiedAt = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
  it.each([
    ['Fri, 02 Jan 2026 03:04:05 GMT', true],
    ['Fri, 02 Jan 2026 03:04:06 GMT', true],
    ['Fri, 02 Jan 2026 03:04:04 GMT', false],
    ['not a date', false],
    [undefined, false],
  ])('%s → %s', (header, expected) => {
    expect(notModifiedSince(header, modifiedAt)).toBe(expected);
  });
});
