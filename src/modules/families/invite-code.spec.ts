import { generateInviteCode, INVITE_CODE_ALPHABET, INVITE_CODE_LENGTH, normalizeInviteCode } from './invite-code.js';

describe('invite codes', () => {
  it('the alphabet is upper-case and has no ambiguous characters', () => {
    expect(INVITE_CODE_ALPHABET).toMatch(/^[A-Z2-9]+$/);
    for (const ambiguous of ['0', 'O', '1', 'I', 'L']) expect(INVITE_CODE_ALPHABET).not.toContain(ambiguous);
    expect(new Set(INVITE_CODE_ALPHABET).size).toBe(INVITE_CODE_ALPHABET.length);
  });

  it('generates 6 characters from the alphabet, using all of it, rarely repeating', () => {
    const codes = Array.from({ length: 2000 }, () => generateInviteCode());
    const seen = new Set<string>();
    for (const code of codes) {
      expect(code).toHaveLength(INVITE_CODE_LENGTH);
      expect(INVITE_CODE_LENGTH).toBe(6);
      for (const char of code) {
        expect(INVITE_CODE_ALPHABET).toContain(char);
        seen.add(char);
      }
    }
    expect(seen.size).toBe(INVITE_CODE_ALPHABET.length);
    // 31^6 ≈ 8.9e8 codes: 2000 draws collide with probability ~0.2 %.
    expect(new Set(codes).size).toBeGreaterThanOrEqual(1998);
  });

  it('normalizes what people type: trims and upper-cases', () => {
    expect(normalizeInviteCode('k7mx2q')).toBe('K7MX2Q');
    expect(normalizeInviteCode('  K7mX2q \n')).toBe('K7MX2Q');
    const code = generateInviteCode();
    expect(normalizeInviteCode(code.toLowerCase())).toBe(code);
  });
});
