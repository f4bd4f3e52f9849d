import { printable, printableEmail } from './printable.js';

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

describe('printableEmail', () => {
  it('escapes invisible characters as well, so a look-alike email does not pass for the real one', () => {
    expect(printableEmail('leila\u200b@example.com')).toBe('leila\\u200b@example.com');
    expect(printableEmail('le\u00adila@exa\ufeffmple.com\u{e0041}')).toBe('le\\u00adila@exa\\ufeffmple.com\\u{e0041}');
    expect(printableEmail('"\x1b]0;x\x07"@example.com')).toBe(printable('"\x1b]0;x\x07"@example.com'));
    expect(printableEmail('أميرة@example.test')).toBe('أميرة@example.test');
  });

  it('names keep their joiners: printable leaves an emoji sequence and a Persian word alone', () => {
    expect(printable('👨\u200d👩\u200d👧 می\u200cخواهم')).toBe('👨\u200d👩\u200d👧 می\u200cخواهم');
  });
});
