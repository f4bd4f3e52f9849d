import { DURATION_PATTERN, parseDurationSeconds } from './duration.js';

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

  it('never returns less than one second (a zero TTL would make tokens useless)', () => {
    expect(parseDurationSeconds('0')).toBe(1);
    expect(parseDurationSeconds('10ms')).toBe(1);
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
