import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The shortest HS256 secret accepted, from JWT_SECRET or from the file (env validation applies the same bound). */
export const JWT_SECRET_MIN_LENGTH = 32;

/** A JWT secret the app refuses to start with; the message says what to do. */
export class JwtSecretError extends Error {
  override name = 'JwtSecretError';
}

/**
 * JWT_SECRET when set (required in production). Otherwise a random secret
 * created once per data directory, so development tokens survive restarts
 * and no two machines share a default secret.
 *
 * The file is never rewritten: an empty, short or unreadable file stops the
 * start-up with a message (an empty HMAC key would accept forged tokens, and
 * a silently regenerated one would refuse every access token at once). It is created with
 * mode 0600 under a temporary name and linked into place, so a crash cannot
 * leave a half-written secret and two processes starting at once agree on one.
 */
export function resolveJwtSecret(configured: string | undefined, dataDir: string): string {
  if (configured) return configured;
  const file = join(dataDir, 'jwt-secret');
  const existing = readSecretFile(file);
  if (existing !== undefined) return existing;

  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  const temp = join(dataDir, `.jwt-secret.${process.pid}.${randomBytes(6).toString('hex')}`);
  writeFileSync(temp, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  try {
    chmodSync(temp, 0o600); // the umask can only narrow it; an existing temp name is impossible (wx)
    publish(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readSecretFile(file)!; // another process created it first: use theirs
  } finally {
    rmSync(temp, { force: true });
  }
  return secret;
}

/**
 * Puts the complete temp file in place under its final name, atomically. link() fails with EEXIST
 * when the name exists (unlike rename(), which would replace a secret another process just wrote);
 * on a file system without hard links, rename() after a last check.
 */
function publish(temp: string, file: string): void {
  try {
    linkSync(temp, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw error;
    if (existsSync(file)) throw Object.assign(new Error(`${file} exists`), { code: 'EEXIST' });
    renameSync(temp, file);
  }
}

function readSecretFile(file: string): string | undefined {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new JwtSecretError(`Cannot read the JWT secret file ${file}: ${(error as Error).message}`);
  }
  const secret = content.trim();
  if (secret.length < JWT_SECRET_MIN_LENGTH) {
    throw new JwtSecretError(
      `The JWT secret file ${file} holds ${secret.length ? `only ${secret.length} characters` : 'no secret'} ` +
        `(at least ${JWT_SECRET_MIN_LENGTH} are required). It is never replaced automatically, because that would refuse ` +
        `every access token at once: delete the file to have a new secret generated, or set JWT_SECRET.`,
    );
  }
  return secret;
}
