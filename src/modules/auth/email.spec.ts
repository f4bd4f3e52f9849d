import { isEmail } from 'class-validator';
import { emailCharacterProblem, normalizeEmail } from './email.js';

describe('normalizeEmail', () => {
  it('trims (Unicode spaces too) and lower-cases', () => {
    expect(normalizeEmail('  Leila@Example.COM \n')).toBe('leila@example.com');
    expect(normalizeEmail('\u00a0a@b.c\u2003')).toBe('a@b.c');
  });

  it('lower-cases non-ASCII letters, whatever the database locale would do', () => {
    expect(normalizeEmail('ÄBC@Example.com')).toBe('äbc@example.com');
    expect(normalizeEmail('ÉLODIE@Exemple.fr')).toBe('élodie@exemple.fr');
    expect(normalizeEmail('ПОЧТА@пример.рф')).toBe('почта@пример.рф');
  });

  it('composed and decomposed forms of one letter are one email (NFC)', () => {
    const decomposed = 'A\u0308bc@example.com'; // A + combining diaeresis
    const composed = '\u00c4bc@example.com'; // Ä
    expect(decomposed).not.toBe(composed);
    expect(normalizeEmail(decomposed)).toBe(normalizeEmail(composed));
    expect(normalizeEmail(decomposed)).toBe('\u00e4bc@example.com');
  });

  // Found by mutation testing: nothing needed the NFC after lower-casing. T + combining diaeresis has no
  // precomposed capital, but its small letter has one (ẗ, U+1E97): without it, two accounts.
  it('composes what lower-casing makes composable', () => {
    expect(normalizeEmail('T\u0308om@example.com')).toBe('\u1e97om@example.com');
    expect(normalizeEmail('T\u0308om@example.com')).toBe(normalizeEmail('\u1e97om@example.com'));
  });

  // Found by review: İ lower-cases to i + U+0307 (a look-alike of i), so `İlker@…`, typed on a Turkish
  // keyboard, was not the account of `ilker@…`.
  it('folds a dotted i to i: the dotted capital İ, I + combining dot, and i + combining dots', () => {
    for (const email of ['İlker@gmail.com', 'ILKER@GMAİL.COM', 'I\u0307lker@gmail.com', 'i\u0307lker@gmai\u0307\u0307l.com']) {
      expect(normalizeEmail(email)).toBe('ilker@gmail.com');
    }
    expect(normalizeEmail('NI\u0307\u0301LDA@x.y')).toBe('n\u00edlda@x.y'); // the acute left on the i composes
    expect(normalizeEmail('ı@x.y')).toBe('ı@x.y'); // the dotless ı is another letter
  });

  it('is idempotent', () => {
    for (const email of ['ÄBC@example.com', 'İSTANBUL@example.com', ' ß@EXAMPLE.com ', 'A\u0308@x.y', 'i\u0307\u0307@x.y', 'I\u0307\u0307\u0307@x.y']) {
      expect(normalizeEmail(normalizeEmail(email))).toBe(normalizeEmail(email));
    }
  });
});

describe('emailCharacterProblem', () => {
  it.each([
    ['ESC and BEL in a quoted local part (sets a terminal\'s title)', '"\x1b]0;pwned\x07"@example.test'],
    ['CR/LF in a quoted local part (a mail header break)', '"a\r\nBcc: x@evil.test"@example.test'],
    ['a tab in a quoted local part', '"a\tb"@example.test'],
    ['DEL in a quoted local part', '"a\x7fb"@example.test'],
    ['a line separator, unquoted', 'a\u2028b@example.test'],
    ['a paragraph separator in the domain', 'ab@exa\u2029mple.test'],
    ['a bidi override, unquoted', 'user\u202egpj.test@example.test'],
    ['a bidi isolate in the domain', 'a@exa\u2066mple.test'],
  ])('refuses %s, which the format check lets through', (_what, email) => {
    expect(isEmail(email)).toBe(true); // why the rule is needed: IsEmail accepts every one of these
    expect(emailCharacterProblem(email)).toBe('must not contain control characters, line breaks or bidirectional-text controls');
  });

  it.each([
    ['C1 (NEL, CSI)', 'a\u0085\u009bb@example.test'],
    ['NUL', 'a\u0000b@example.test'],
    ['a vertical tab and a form feed', 'a\u000b\u000cb@example.test'],
  ])('refuses %s too, anywhere', (_what, email) => {
    expect(emailCharacterProblem(email)).toBeDefined();
  });

  it.each([
    ['a zero-width space (a look-alike of parent@example.com)', 'parent\u200b@example.com'],
    ['a zero-width joiner and non-joiner', 'pa\u200drent\u200c@example.com'],
    ['a soft hyphen in the domain', 'parent@exam\u00adple.com'],
    ['a word joiner and a byte-order mark inside', 'par\u2060ent\ufeff@example.com'],
    ['a left-to-right mark', 'parent@example.com\u200e'],
    ['a variation selector', 'parent\ufe0f@example.com'],
  ])('refuses %s: invisible, which the format check lets through', (_what, email) => {
    expect(isEmail(email)).toBe(true);
    expect(emailCharacterProblem(email)).toBe('must not contain invisible characters (zero-width spaces or joiners, soft hyphens, variation selectors)');
  });

  it.each([
    ['the ﬁ ligature (a look-alike of fiona@example.com)', '\ufb01ona@example.com'],
    ['a full-width letter (a keyboard left in full-width mode)', '\uff4ceila@example.com'],
    ['a circled letter', '\u24dbeila@example.com'],
    ['a modifier letter', 'lei\u02e1a@example.com'],
    ['a superscript digit', 'room\u00b2@example.com'],
    ['a half-width katakana', '\uff76@example.com'],
  ])('refuses %s: a compatibility character, which the format check lets through', (_what, email) => {
    expect(isEmail(email)).toBe(true);
    expect(emailCharacterProblem(email)).toBe('must not contain compatibility characters (ligatures, full-width, circled, superscript or modifier letters)');
  });

  it.each([
    'parent@example.com',
    '"john doe"@example.test',
    '"o\'brien"@example.test',
    'élodie@exemple.fr',
    'почта@пример.рф',
    'أميرة@example.test',
    'a+tag@sub.example.test',
    'カナ@example.test',
    '李@example.test',
    'น้ำ@example.test', // Thai sara am: a compatibility character, and a letter Thai keyboards type
    'ຄຳໜ@example.test',
    'երևան@example.test',
    'ilker@gmail.com',
  ])('accepts %s', (email) => {
    expect(emailCharacterProblem(email)).toBeUndefined();
  });

  it('is stable under normalizeEmail: what it refuses stays refused once normalized, and the reverse', () => {
    for (const email of ['"\x1b"@example.test', 'A\u202eB@Example.test', '"John Doe"@Example.test', 'ÄBC@example.test', '\uff2ceila@example.test', '\ufb01ona@Example.test']) {
      expect(emailCharacterProblem(normalizeEmail(email))).toEqual(emailCharacterProblem(email));
    }
  });
});
