import { normalizeEmail } from './email.js';

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

  it('is idempotent', () => {
    for (const email of ['ÄBC@example.com', 'İSTANBUL@example.com', ' ß@EXAMPLE.com ', 'A\u0308@x.y']) {
      expect(normalizeEmail(normalizeEmail(email))).toBe(normalizeEmail(email));
    }
  });
});
