import { JWT_SECRET_MIN_LENGTH } from '../modules/auth/jwt-secret.js';
import { appConfig, authConfig, httpConfig } from './configuration.js';
import { ConfigValidationError, validatedEnv, validateEnv } from './env.validation.js';

function problemsOf(raw: Record<string, unknown>): string[] {
  try {
    validateEnv(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValidationError);
    return (error as ConfigValidationError).problems;
  }
  throw new Error('expected validation to fail');
}

const PROD_DB = 'postgres://hemoday:secret@db.internal:5432/hemoday';

describe('validateEnv', () => {
  it('applies documented defaults to an empty environment', () => {
    const env = validateEnv({});
    expect(env).toMatchObject({
      NODE_ENV: 'development',
      PORT: 3000,
      HOST: '127.0.0.1',
      JWT_ACCESS_TTL: '15m',
      JWT_REFRESH_TTL: '60d',
      UPLOAD_DIR: 'uploads',
      LOG_LEVEL: 'info',
      AUTH_RATE_LIMIT: 10,
      TRUST_PROXY: false,
    });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.JWT_SECRET).toBeUndefined();
  });

  it('converts numbers and booleans from strings', () => {
    const env = validateEnv({ PORT: '8080', UPLOAD_MAX_BYTES: '1048576', S3_FORCE_PATH_STYLE: 'false', BODY_LIMIT_BYTES: '2048' });
    expect(env).toMatchObject({ PORT: 8080, UPLOAD_MAX_BYTES: 1048576, S3_FORCE_PATH_STYLE: false, BODY_LIMIT_BYTES: 2048 });
  });

  it.each([
    ['false', false],
    ['0', false],
    ['1', 1],
    [' 2 ', 2],
    ['loopback', ['loopback']],
    ['loopback, uniquelocal', ['loopback', 'uniquelocal']],
    ['10.0.0.0/8,172.16.0.0/12, 192.168.1.10', ['10.0.0.0/8', '172.16.0.0/12', '192.168.1.10']],
    ['::1,fd00::/8', ['::1', 'fd00::/8']],
  ])('TRUST_PROXY=%j is what Express\'s trust proxy gets: %j', (raw, parsed) => {
    expect(validateEnv({ TRUST_PROXY: raw }).TRUST_PROXY).toEqual(parsed);
  });

  it('password hashing cost: defaults to 64 MiB / 3 / 4, and refuses anything under OWASP\'s argon2id minimum', () => {
    expect(validateEnv({})).toMatchObject({ PASSWORD_HASH_MEMORY_KIB: 65536, PASSWORD_HASH_ITERATIONS: 3, PASSWORD_HASH_PARALLELISM: 4 });
    expect(validateEnv({ PASSWORD_HASH_MEMORY_KIB: '19456', PASSWORD_HASH_ITERATIONS: '2', PASSWORD_HASH_PARALLELISM: '1' })).toMatchObject({
      PASSWORD_HASH_MEMORY_KIB: 19456,
      PASSWORD_HASH_ITERATIONS: 2,
    });
    const named = problemsOf({ PASSWORD_HASH_MEMORY_KIB: '4096', PASSWORD_HASH_ITERATIONS: '1', PASSWORD_HASH_PARALLELISM: '0' }).map((p) => p.split('=')[0]);
    expect(named).toEqual(expect.arrayContaining(['PASSWORD_HASH_MEMORY_KIB', 'PASSWORD_HASH_ITERATIONS', 'PASSWORD_HASH_PARALLELISM']));
  });

  it('refuses TRUST_PROXY=true: it would let any client pick its IP with X-Forwarded-For', () => {
    expect(problemsOf({ TRUST_PROXY: 'true' })).toEqual([expect.stringMatching(/^TRUST_PROXY="true": TRUST_PROXY=true would trust every hop.* number of proxies .* addresses\/subnets$/)]);
  });

  it('treats an empty value as unset and keeps the default', () => {
    const env = validateEnv({ PORT: '', DATABASE_URL: '', JWT_SECRET: '', AUTH_RATE_LIMIT: '' });
    expect(env.PORT).toBe(3000);
    expect(env.AUTH_RATE_LIMIT).toBe(10);
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.JWT_SECRET).toBeUndefined();
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '80.5'],
    ['NODE_ENV', 'staging'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['JWT_SECRET', 'too-short'],
    ['JWT_ACCESS_TTL', 'fifteen minutes'],
    ['JWT_ACCESS_TTL', '15 m'],
    ['JWT_REFRESH_TTL', '-1d'],
    ['UPLOAD_MAX_BYTES', '0'],
    ['UPLOAD_MAX_BYTES', '20MB'],
    ['LOG_LEVEL', 'verbose'],
    ['BODY_LIMIT_BYTES', '10'],
    ['SYNC_BODY_LIMIT_BYTES', String(256 * 1024 * 1024 + 1)],
    ['AUTH_RATE_LIMIT', '0'],
    ['TRUST_PROXY', 'maybe'],
    ['TRUST_PROXY', 'true'],
    ['TRUST_PROXY', '-1'],
    ['TRUST_PROXY', '101'],
    ['TRUST_PROXY', '10.0.0.300'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['TRUST_PROXY', 'loopback,'],
    ['TRUST_PROXY', 'proxy.internal'],
    ['EMBEDDED_PG_PORT', 'x'],
    ['UPLOAD_ALLOWED_TYPES', 'image/gif'],
    ['UPLOAD_ALLOWED_TYPES', 'application/pdf, text/html'],
    ['FILE_CLEANUP_GRACE_HOURS', '100000000'],
    ['DOCUMENT_RETENTION_DAYS', '99999999'],
  ])('%s=%j gives one clear problem naming the variable and the value', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems.length).toBeGreaterThanOrEqual(1);
    for (const problem of problems) {
      expect(problem.startsWith(`${name}=${JSON.stringify(value)}: `)).toBe(true);
      expect(problem.slice(name.length + JSON.stringify(value).length + 3)).toContain(name);
    }
  });

  it('accepts a subset of the recognizable upload types, and names the supported ones when refusing', () => {
    expect(validateEnv({ UPLOAD_ALLOWED_TYPES: 'application/pdf, image/jpeg' }).UPLOAD_ALLOWED_TYPES).toBe('application/pdf, image/jpeg');
    const [problem] = problemsOf({ UPLOAD_ALLOWED_TYPES: 'application/pdf,image/gif' });
    expect(problem).toContain('image/gif');
    expect(problem).toContain('supported are application/pdf, image/jpeg, image/png, image/heic, image/heif, image/webp');
  });

  it('reports every bad variable at once, one line each, in the error message', () => {
    const problems = problemsOf({ PORT: 'abc', LOG_LEVEL: 'loud', JWT_ACCESS_TTL: 'soon' });
    const named = problems.map((p) => p.split('=')[0]);
    expect(new Set(named)).toEqual(new Set(['PORT', 'LOG_LEVEL', 'JWT_ACCESS_TTL']));
    try {
      validateEnv({ PORT: 'abc', LOG_LEVEL: 'loud' });
    } catch (error) {
      expect((error as Error).message).toMatch(/^Invalid configuration:\n {2}- /);
      expect((error as Error).message).toContain('PORT="abc"');
      expect((error as Error).message).toContain('LOG_LEVEL="loud"');
    }
  });

  it('requires JWT_SECRET and DATABASE_URL in production', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems).toEqual([
      expect.stringMatching(/^JWT_SECRET is required when NODE_ENV=production/),
      expect.stringMatching(/^DATABASE_URL is required when NODE_ENV=production/),
    ]);
    expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: '', DATABASE_URL: PROD_DB })).toEqual([
      expect.stringMatching(/^JWT_SECRET is required/),
    ]);
  });

  it('refuses a short JWT_SECRET in production and accepts a long one', () => {
    expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: 'short' })[0]).toMatch(/JWT_SECRET must be at least 32 characters/);
    expect(validateEnv({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(48), DATABASE_URL: PROD_DB }).JWT_SECRET).toBe('x'.repeat(48));
  });

  it('does not require JWT_SECRET outside production', () => {
    expect(() => validateEnv({ NODE_ENV: 'development' })).not.toThrow();
    expect(() => validateEnv({ NODE_ENV: 'test' })).not.toThrow();
  });

  it('accepts postgres and postgresql URLs', () => {
    expect(validateEnv({ DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db' }).DATABASE_URL).toBe('postgres://u:p@127.0.0.1:5432/db');
    expect(() => validateEnv({ DATABASE_URL: 'postgresql://127.0.0.1/db' })).not.toThrow();
  });

  it('JWT_SECRET has the length bound of the secret file (one constant)', () => {
    expect(problemsOf({ JWT_SECRET: 'x'.repeat(JWT_SECRET_MIN_LENGTH - 1) })).toEqual([
      `JWT_SECRET=${JSON.stringify('x'.repeat(JWT_SECRET_MIN_LENGTH - 1))}: JWT_SECRET must be at least ${JWT_SECRET_MIN_LENGTH} characters`,
    ]);
    expect(() => validateEnv({ JWT_SECRET: 'x'.repeat(JWT_SECRET_MIN_LENGTH) })).not.toThrow();
  });
});

describe('validatedEnv', () => {
  it('validates an environment once: asked again for the same values, it returns the same result', () => {
    const raw = { NODE_ENV: 'test', PORT: '4000', JWT_ACCESS_TTL: '5m' };
    const first = validatedEnv(raw);
    expect(first.PORT).toBe(4000);
    expect(validatedEnv({ ...raw })).toBe(first);
    // Other values (a test app started with overrides) are validated anew.
    const other = validatedEnv({ ...raw, PORT: '4001' });
    expect(other).not.toBe(first);
    expect(other.PORT).toBe(4001);
  });

  it('keeps nothing of an invalid environment: every ask names the bad variable again', () => {
    for (let i = 0; i < 2; i++) expect(() => validatedEnv({ PORT: 'eighty' })).toThrow(/PORT="eighty"/);
  });

  it('the namespaces read validatedEnv() of process.env', () => {
    const saved = { ...process.env };
    Object.assign(process.env, { PORT: '4321', JWT_ACCESS_TTL: '2m', DATA_DIR: '/tmp/hemoday-config-spec' });
    try {
      expect(httpConfig().port).toBe(4321);
      expect(authConfig().accessTtlSeconds).toBe(120);
      expect(appConfig().dataDir).toBe('/tmp/hemoday-config-spec');
      expect(validatedEnv()).toBe(validatedEnv(process.env));
    } finally {
      for (const key of ['PORT', 'JWT_ACCESS_TTL', 'DATA_DIR']) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });
});
