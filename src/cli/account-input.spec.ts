import { toRegisterDto } from './account-input.js';

describe('toRegisterDto (the CLI options user:create, user:reset-password and seed check)', () => {
  it('refuses an email with control characters as POST /auth/register does, naming --email', () => {
    expect(() => toRegisterDto({ email: '"\x1b]0;pwned\x07"@example.test', password: 'long enough' })).toThrow(
      '--email: must not contain control characters, line breaks or bidirectional-text controls',
    );
    expect(() => toRegisterDto({ email: '"a\r\nb"@example.test', password: 'long enough' })).toThrow(/^--email: must not contain control characters/);
  });

  it('accepts a quoted local part without them, normalized', () => {
    expect(toRegisterDto({ email: ' "John Doe"@Example.test ', password: 'long enough' }).email).toBe('"john doe"@example.test');
  });
});
