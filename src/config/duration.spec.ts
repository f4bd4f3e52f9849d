import { ACCESS_TTL_BOUNDS, DURATION_PATTERN, durationProblem, formatDuration, parseDurationSeconds, REFRESH_TTL_BOUNDS } from './duration.js';

describe('parseDurationSeconds', () => {
  it.each([
    ['900', 900],
    ['30s', 30],
    ['15m', 900],
    ['12h', 43_200],
    ['60d', 5_184_000],
    ['1500ms', 1],
    [' 15m ', 900],
  ])('%j → %i seconds', (input, seconds) => {
    expect(parseDurationSeconds(input)).toBe(seconds);
  });

  it('rounds down to whole seconds and no longer turns 0 into 1 s: the bounds refuse short values instead', () => {
    expect(parseDurationSeconds('0')).toBe(0);
    expect(parseDurationSeconds('10ms')).toBe(0);
    expect(parseDurationSeconds('10500ms')).toBe(10);
  });

  it('durations past any date stay numbers (for the bounds to refuse), never NaN', () => {
    expect(parseDurationSeconds('999999999d')).toBe(999_999_999 * 86_400);
    expect(parseDurationSeconds('9'.repeat(400))).toBe(Infinity);
  });

  it.each(['', 'abc', '15 m', '-5m', '1.5h', '10w', 'm'])('rejects %j with a message quoting it', (input) => {
    expect(() => parseDurationSeconds(input)).toThrow(`Not a duration: ${input}`);
  });

  it('accepts exactly what env validation accepts', () => {
    for (const value of ['900', '15m', '12h', '60d', '1500ms', '5s']) {
      expect(DURATION_PATTERN.test(value)).toBe(true);
      expect(() => parseDurationSeconds(value)).not.toThrow();
    }
    for (const value of ['abc', '15 m', '-5m', '1.5h']) {
      expect(DURATION_PATTERN.test(value)).toBe(false);
      expect(() => parseDurationSeconds(value)).toThrow();
    }
  });
});

describe('duration bounds', () => {
  it.each([
    ['10s', ACCESS_TTL_BOUNDS, undefined],
    ['10000ms', ACCESS_TTL_BOUNDS, undefined],
    ['1d', ACCESS_TTL_BOUNDS, undefined],
    ['0', ACCESS_TTL_BOUNDS, 'short'],
    ['500ms', ACCESS_TTL_BOUNDS, 'short'],
    ['9999ms', ACCESS_TTL_BOUNDS, 'short'],
    ['9', ACCESS_TTL_BOUNDS, 'short'],
    ['86401', ACCESS_TTL_BOUNDS, 'long'],
    ['1h', REFRESH_TTL_BOUNDS, undefined],
    ['3650d', REFRESH_TTL_BOUNDS, undefined],
    ['59m', REFRESH_TTL_BOUNDS, 'short'],
    ['3651d', REFRESH_TTL_BOUNDS, 'long'],
    ['999999999d', REFRESH_TTL_BOUNDS, 'long'],
    ['9'.repeat(400), REFRESH_TTL_BOUNDS, 'long'],
    [' 60d', REFRESH_TTL_BOUNDS, 'format'],
    ['60 d', REFRESH_TTL_BOUNDS, 'format'],
  ] as const)('%j within %j: %s', (value, bounds, problem) => {
    expect(durationProblem(value, bounds)).toBe(problem);
  });

  it('every accepted refresh TTL gives a valid expiry date, however late', () => {
    const farthest = new Date(Date.now() + parseDurationSeconds(`${REFRESH_TTL_BOUNDS.max}`) * 1000);
    expect(Number.isNaN(farthest.getTime())).toBe(false);
  });

  it.each([
    [10, '10s'],
    [90, '90s'],
    [900, '15m'],
    [3600, '1h'],
    [86_400, '1d'],
    [3650 * 86_400, '3650d'],
  ])('formatDuration(%i) = %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
