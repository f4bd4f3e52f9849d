import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JWT_SECRET_MIN_LENGTH, JwtSecretError, resolveJwtSecret } from './jwt-secret.js';

describe('resolveJwtSecret', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'hemoday-jwt-secret-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const secretFile = () => join(dir, 'jwt-secret');
  const refusal = (run: () => unknown): JwtSecretError => {
    try {
      run();
    } catch (error) {
      return error as JwtSecretError;
    }
    throw new Error('expected a refusal');
  };

  it('JWT_SECRET, when set, wins and no file is written', () => {
    expect(resolveJwtSecret('configured-secret-configured-secret-0123', dir)).toBe('configured-secret-configured-secret-0123');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('generates a long random secret once, in a 0600 file, leaving no temp file behind', () => {
    const secret = resolveJwtSecret(undefined, dir);
    expect(secret.length).toBeGreaterThanOrEqual(64);
    expect(readFileSync(secretFile(), 'utf8')).toBe(`${secret}\n`);
    expect(statSync(secretFile()).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['jwt-secret']);
    // Another data directory gets another secret.
    const other = mkdtempSync(join(tmpdir(), 'hemoday-jwt-secret-'));
    try {
      expect(resolveJwtSecret(undefined, other)).not.toBe(secret);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('creates the data directory when it does not exist yet', () => {
    const nested = join(dir, 'a', 'b');
    const secret = resolveJwtSecret(undefined, nested);
    expect(readFileSync(join(nested, 'jwt-secret'), 'utf8').trim()).toBe(secret);
  });

  it('reuses the stored secret on the next start (tokens survive restarts)', () => {
    const first = resolveJwtSecret(undefined, dir);
    expect(resolveJwtSecret(undefined, dir)).toBe(first);
    const stored = 'x'.repeat(JWT_SECRET_MIN_LENGTH);
    writeFileSync(secretFile(), `  ${stored}\n`);
    expect(resolveJwtSecret(undefined, dir)).toBe(stored);
  });

  it.each([
    ['an empty file', ''],
    ['a file of blanks', ' \n\t\n'],
    [`a secret under ${JWT_SECRET_MIN_LENGTH} characters`, 'x'.repeat(JWT_SECRET_MIN_LENGTH - 1)],
  ])('refuses %s, with a message saying what to do, and leaves the file alone', (_, content) => {
    writeFileSync(secretFile(), content, { mode: 0o600 });
    const error = refusal(() => resolveJwtSecret(undefined, dir));
    expect(error).toBeInstanceOf(JwtSecretError);
    expect(error.message).toContain(secretFile());
    expect(error.message).toMatch(/at least 32/);
    expect(error.message).toMatch(/delete the file|JWT_SECRET/);
    // Never silently rotated: the same refusal on every start until someone acts.
    expect(readFileSync(secretFile(), 'utf8')).toBe(content);
    expect(() => resolveJwtSecret(undefined, dir)).toThrow(JwtSecretError);
  });

  it('an unreadable secret file stops the start-up instead of being replaced', () => {
    mkdirSync(secretFile()); // a directory where the file should be: reading it fails with EISDIR
    const error = refusal(() => resolveJwtSecret(undefined, dir));
    expect(error).toBeInstanceOf(JwtSecretError);
    expect(error.message).toMatch(/Cannot read the JWT secret file/);
    expect(statSync(secretFile()).isDirectory()).toBe(true);
  });
});
