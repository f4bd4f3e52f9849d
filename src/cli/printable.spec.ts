import { printable } from './printable.js';

describe('printable', () => {
  it('leaves ordinary text as it is, other scripts and emoji included', () => {
    expect(printable('Amira Ḥaddād — أميرة 👧 "o\'brien"@example.com')).toBe('Amira Ḥaddād — أميرة 👧 "o\'brien"@example.com');
  });

  it.each([
    ['a line break, a carriage return, a tab', 'a\nb\rc\td', 'a\\nb\\rc\\td'],
    ['ESC and BEL (a terminal command: set the title)', '\x1b]0;pwned\x07', '\\u001b]0;pwned\\u0007'],
    ['DEL and C1 (CSI, NEL)', '\x7f\x9b2J\x85', '\\u007f\\u009b2J\\u0085'],
    ['bidi overrides and isolates, which reorder what is shown', 'user\u202egpj.exe\u2066x\u2069', 'user\\u202egpj.exe\\u2066x\\u2069'],
    ['line and paragraph separators', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
  ])('escapes %s', (_what, text, shown) => {
    expect(printable(text)).toBe(shown);
  });
});
