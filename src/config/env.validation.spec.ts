import { JWT_SECRET_MIN_LENGTH } from '../modules/auth/jwt-secret.js';
import { appConfig, authConfig, DEFAULT_PASSWORD_RESET_URL, httpConfig, mailConfig, uploadConfig } from './configuration.js';
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

/** The http namespace of an environment (read from process.env, as the app does). */
function httpConfigOf(env: Record<string, string>): ReturnType<typeof httpConfig> {
  return namespaceOf(httpConfig, env);
}

/** A configuration namespace of an environment (read from process.env, as the app does). */
function namespaceOf<T>(namespace: () => T, env: Record<string, string>): T {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return namespace();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
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
      SYNC_NEW_INSTALLATION_LIMIT: 20,
      SYNC_NEW_INSTALLATION_WINDOW_SECONDS: 3600,
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
    ['fc00::/7, ::ffff:10.0.0.0/104, 10.0.0.0/8', ['fc00::/7', '::ffff:10.0.0.0/104', '10.0.0.0/8']],
  ])('TRUST_PROXY=%j is what Express\'s trust proxy gets: %j', (raw, parsed) => {
    expect(validateEnv({ TRUST_PROXY: raw }).TRUST_PROXY).toEqual(parsed);
  });

  // Found by mutation testing: the ends of these ranges were not checked (65536, 101 and /33 were refused; nothing said 65535, 100 and /32 are not).
  it('accepts the highest port, the highest TRUST_PROXY hop count and single-address subnets, and refuses a port past 65535', () => {
    expect(validateEnv({ PORT: '65535', EMBEDDED_PG_PORT: '65535', DATABASE_URL: PROD_DB })).toMatchObject({ PORT: 65535, EMBEDDED_PG_PORT: 65535 });
    expect(problemsOf({ PORT: '65536' })).toEqual(['PORT="65536": PORT must not be greater than 65535']);
    expect(problemsOf({ EMBEDDED_PG_PORT: '65536' })).toEqual(['EMBEDDED_PG_PORT="65536": EMBEDDED_PG_PORT must not be greater than 65535']);
    expect(validateEnv({ TRUST_PROXY: '100' }).TRUST_PROXY).toBe(100);
    expect(validateEnv({ TRUST_PROXY: '10.1.2.3/32, ::1/128' }).TRUST_PROXY).toEqual(['10.1.2.3/32', '::1/128']);
  });

  it.each([
    ['true', true],
    ['1', true],
    ['false', false],
    ['0', false],
  ])('a boolean variable set to %j is %j', (raw, parsed) => {
    expect(validateEnv({ DB_PREPARED_STATEMENTS: raw, S3_FORCE_PATH_STYLE: raw })).toMatchObject({ DB_PREPARED_STATEMENTS: parsed, S3_FORCE_PATH_STYLE: parsed });
  });

  // Found by review: "TRUE", "True" (a Python template's str(True)) or "yes" were refused as "must be a boolean
  // value", which they are to whoever wrote them; the message did not say which spellings are taken.
  it.each(['TRUE', 'True', 'yes', 'on'])('a boolean variable set to %j is refused, saying which values it takes', (raw) => {
    expect(problemsOf({ DB_PREPARED_STATEMENTS: raw, S3_FORCE_PATH_STYLE: raw })).toEqual([
      `DB_PREPARED_STATEMENTS=${JSON.stringify(raw)}: DB_PREPARED_STATEMENTS must be true or false (or 1 or 0)`,
      `S3_FORCE_PATH_STYLE=${JSON.stringify(raw)}: S3_FORCE_PATH_STYLE must be true or false (or 1 or 0)`,
    ]);
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

  it.each(['0.0.0.0/0', '::/0', '0.0.0.0/1,128.0.0.0/1', '10.0.0.0/7', '::ffff:0:0/96', '::ffff:10.0.0.0/100', '::/8', '8000::/1'])(
    'refuses TRUST_PROXY=%j: as wide as TRUST_PROXY=true for the clients it covers (found by review: a /0 stopped the start-up with a TypeError)',
    (value) => {
      expect(problemsOf({ TRUST_PROXY: value })).toEqual([expect.stringMatching(/would trust every client in a range wider than a proxy network .* X-Forwarded-For/)]);
    },
  );

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
    ['JWT_ACCESS_TTL', 'fifteen minutes'],
    ['JWT_ACCESS_TTL', '15 m'],
    ['JWT_REFRESH_TTL', '-1d'],
    ['UPLOAD_MAX_BYTES', '0'],
    ['UPLOAD_MAX_BYTES', '20MB'],
    ['LOG_LEVEL', 'verbose'],
    ['BODY_LIMIT_BYTES', '10'],
    ['SYNC_BODY_LIMIT_BYTES', String(256 * 1024 * 1024 + 1)],
    ['REQUEST_TIMEOUT_SECONDS', '59'],
    ['REQUEST_TIMEOUT_SECONDS', '3001'], // an upload in progress would look like debris to files:cleanup
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
    ['JWT_ACCESS_TTL', '0'],
    ['JWT_ACCESS_TTL', '500ms'],
    ['JWT_ACCESS_TTL', '2d'],
    ['JWT_REFRESH_TTL', '999999999d'],
    ['JWT_REFRESH_TTL', '3651d'],
    ['JWT_REFRESH_TTL', '10m'],
    ['AUTH_RATE_WINDOW_SECONDS', '0'],
    ['AUTH_RATE_WINDOW_SECONDS', '100000000000000000000'],
    ['SYNC_NEW_INSTALLATION_LIMIT', '0'],
    ['SYNC_NEW_INSTALLATION_WINDOW_SECONDS', '0'],
    ['SYNC_NEW_INSTALLATION_WINDOW_SECONDS', '86401'],
    ['CORS_ORIGINS', 'notaurl'],
    ['CORS_ORIGINS', 'https://app.example.com/'],
    ['CORS_ORIGINS', 'https://app.example.com,notaurl'],
    ['CORS_ORIGINS', 'none,https://app.example.com'],
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

  it.each([
    ['JWT_ACCESS_TTL', '0', 'JWT_ACCESS_TTL must be at least 10s (a shorter access token expires before a client on a slow network can use it)'],
    ['JWT_ACCESS_TTL', '500ms', 'JWT_ACCESS_TTL must be at least 10s (a shorter access token expires before a client on a slow network can use it)'],
    ['JWT_ACCESS_TTL', '25h', 'JWT_ACCESS_TTL must be at most 1d'],
    ['JWT_REFRESH_TTL', '999999999d', 'JWT_REFRESH_TTL must be at most 3650d'],
    ['JWT_REFRESH_TTL', '30m', 'JWT_REFRESH_TTL must be at least 1h (a shorter sign-in ends before a user who is offline for a while comes back)'],
    ['JWT_ACCESS_TTL', 'soon', 'JWT_ACCESS_TTL must be a duration such as 900, 15m or 1h (seconds, or a number with ms, s, m, h or d), from 10s to 1d'],
  ])('%s=%j is refused saying why: %s', (name, value, message) => {
    expect(problemsOf({ [name]: value })).toEqual([`${name}=${JSON.stringify(value)}: ${message}`]);
  });

  it('refuses an access token that would outlive its sign-in (JWT_ACCESS_TTL longer than JWT_REFRESH_TTL); equal is fine', () => {
    expect(problemsOf({ JWT_ACCESS_TTL: '2h', JWT_REFRESH_TTL: '1h' })).toEqual(['JWT_ACCESS_TTL="2h": JWT_ACCESS_TTL must not be longer than JWT_REFRESH_TTL (1h)']);
    expect(validateEnv({ JWT_ACCESS_TTL: '1h', JWT_REFRESH_TTL: '3600' })).toMatchObject({ JWT_ACCESS_TTL: '1h', JWT_REFRESH_TTL: '3600' });
    expect(problemsOf({ JWT_ACCESS_TTL: '25h', JWT_REFRESH_TTL: '1h' })).toEqual(['JWT_ACCESS_TTL="25h": JWT_ACCESS_TTL must be at most 1d']);
  });

  it('refuses a family storage limit smaller than the largest file (UPLOAD_FAMILY_MAX_BYTES below UPLOAD_MAX_BYTES); equal is fine', () => {
    expect(problemsOf({ UPLOAD_FAMILY_MAX_BYTES: '1000000', UPLOAD_MAX_BYTES: '2000000' })).toEqual([
      'UPLOAD_FAMILY_MAX_BYTES="1000000": UPLOAD_FAMILY_MAX_BYTES must not be smaller than UPLOAD_MAX_BYTES (2000000), the largest single file',
    ]);
    expect(problemsOf({ UPLOAD_MAX_BYTES: String(11 * 1024 ** 3) })).toEqual([
      `UPLOAD_FAMILY_MAX_BYTES (default ${10 * 1024 ** 3}): UPLOAD_FAMILY_MAX_BYTES must not be smaller than UPLOAD_MAX_BYTES (${11 * 1024 ** 3}), the largest single file`,
    ]);
    expect(validateEnv({ UPLOAD_FAMILY_MAX_BYTES: '2000000', UPLOAD_MAX_BYTES: '2000000' })).toMatchObject({ UPLOAD_FAMILY_MAX_BYTES: 2000000, UPLOAD_MAX_BYTES: 2000000 });
    // Found by mutation testing. Left empty (as compose files do), the default applies, and the message says so.
    expect(problemsOf({ UPLOAD_FAMILY_MAX_BYTES: '', UPLOAD_MAX_BYTES: String(11 * 1024 ** 3) })).toEqual(problemsOf({ UPLOAD_MAX_BYTES: String(11 * 1024 ** 3) }));
    // A value refused on its own gives that one problem, not a second one comparing it.
    expect(problemsOf({ UPLOAD_FAMILY_MAX_BYTES: '0' })).toEqual([expect.stringMatching(/^UPLOAD_FAMILY_MAX_BYTES="0": UPLOAD_FAMILY_MAX_BYTES must not be less than 1$/)]);
  });

  it('accepts the duration bounds themselves', () => {
    expect(validateEnv({ JWT_ACCESS_TTL: '10s', JWT_REFRESH_TTL: '3650d' })).toMatchObject({ JWT_ACCESS_TTL: '10s', JWT_REFRESH_TTL: '3650d' });
    expect(validateEnv({ JWT_ACCESS_TTL: '10s', JWT_REFRESH_TTL: '1h' })).toMatchObject({ JWT_ACCESS_TTL: '10s', JWT_REFRESH_TTL: '1h' });
    expect(validateEnv({ JWT_ACCESS_TTL: '1d', JWT_REFRESH_TTL: '1d', AUTH_RATE_WINDOW_SECONDS: '86400' })).toMatchObject({ AUTH_RATE_WINDOW_SECONDS: 86400 });
  });

  it.each([
    ['*', ['*']],
    ['none', []],
    [' none ', []],
    ['https://app.example.com', ['https://app.example.com']],
    ['https://app.example.com, http://localhost:8081', ['https://app.example.com', 'http://localhost:8081']],
    ['http://127.0.0.1:3000,http://[::1]:3000', ['http://127.0.0.1:3000', 'http://[::1]:3000']],
    // As the browser sends it in Origin: lower case, no default port, punycode.
    ['HTTPS://App.Example.com:443', ['https://app.example.com']],
    ['http://bücher.example', ['http://xn--bcher-kva.example']],
    ['*,https://app.example.com', ['*', 'https://app.example.com']],
  ])('CORS_ORIGINS=%j allows %j', (value, origins) => {
    validateEnv({ CORS_ORIGINS: value });
    expect(httpConfigOf({ CORS_ORIGINS: value }).corsOrigins).toEqual(origins);
  });

  it.each([
    ['notaurl', '"notaurl", which is not an origin'],
    ['https://app.example.com/', '"https://app.example.com/", which is not an origin'],
    ['https://app.example.com/app', '"https://app.example.com/app", which is not an origin'],
    ['app.example.com', '"app.example.com", which is not an origin'],
    ['ftp://files.example.com', '"ftp://files.example.com", which is not an origin'],
    ['https://*.example.com', '"https://*.example.com", which is not an origin'],
    ['https://user@app.example.com', '"https://user@app.example.com", which is not an origin'],
    ['http://localhost:99999', '"http://localhost:99999", which is not an origin'],
    ['null', '"null", which is not an origin'],
    ['https://a.example.com,,https://b.example.com', 'an empty entry, which is not an origin'],
    ['x, https://ok.example.com, y', '"x", "y", which are not origins'],
  ])('CORS_ORIGINS=%j is refused, naming the bad entry', (value, named) => {
    const problems = problemsOf({ CORS_ORIGINS: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`CORS_ORIGINS=${JSON.stringify(value)}: CORS_ORIGINS lists ${named}: `);
  });

  it('accepts a subset of the recognizable upload types, and names the supported ones when refusing', () => {
    expect(validateEnv({ UPLOAD_ALLOWED_TYPES: 'application/pdf, image/jpeg' }).UPLOAD_ALLOWED_TYPES).toBe('application/pdf, image/jpeg');
    // As the sniffed types are compared with them: the blank after a comma is not part of the type.
    expect(namespaceOf(uploadConfig, { UPLOAD_ALLOWED_TYPES: 'application/pdf, image/jpeg' }).allowedTypes).toEqual(['application/pdf', 'image/jpeg']);
    const [problem] = problemsOf({ UPLOAD_ALLOWED_TYPES: 'application/pdf,image/gif' });
    expect(problem).toContain('image/gif');
    expect(problem).toContain('supported are application/pdf, image/jpeg, image/png, image/heic, image/heif, image/webp');
    // Not a list of MIME types at all: said once, not also that "pdf" and "jpeg" are not supported types.
    expect(problemsOf({ UPLOAD_ALLOWED_TYPES: 'pdf, jpeg' })).toEqual(['UPLOAD_ALLOWED_TYPES="pdf, jpeg": UPLOAD_ALLOWED_TYPES must be a comma-separated list of MIME types']);
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

  it('refuses PORT equal to EMBEDDED_PG_PORT on an address the embedded PostgreSQL shares; fine with DATABASE_URL or on another address', () => {
    // Before: the embedded server took the port, and the start-up failed saying "127.0.0.1:54329 is already in use: stop what listens there".
    expect(problemsOf({ PORT: '54329' })).toEqual([
      'PORT="54329": PORT and EMBEDDED_PG_PORT are both 54329: the embedded PostgreSQL listens on 127.0.0.1:54329, so the API cannot; set one of them to another port',
    ]);
    expect(problemsOf({ EMBEDDED_PG_PORT: '3000', HOST: '0.0.0.0' })).toEqual([expect.stringMatching(/^EMBEDDED_PG_PORT="3000": PORT and EMBEDDED_PG_PORT are both 3000: /)]);
    expect(validateEnv({ PORT: '5433', EMBEDDED_PG_PORT: '5433', DATABASE_URL: PROD_DB })).toMatchObject({ PORT: 5433 });
    expect(validateEnv({ PORT: '5433', EMBEDDED_PG_PORT: '5433', HOST: '10.1.2.3' })).toMatchObject({ PORT: 5433 });
    // `::` (every address, IPv4 ones included on a dual-stack host) takes 127.0.0.1's port too.
    expect(problemsOf({ PORT: '5433', EMBEDDED_PG_PORT: '5433', HOST: '::' })).toEqual([expect.stringMatching(/^PORT="5433": PORT and EMBEDDED_PG_PORT are both 5433: /)]);
    // Both out of range: that is the problem, said once each, not also that they are equal.
    expect(problemsOf({ PORT: '70000', EMBEDDED_PG_PORT: '70000' })).toEqual([
      'PORT="70000": PORT must not be greater than 65535',
      'EMBEDDED_PG_PORT="70000": EMBEDDED_PG_PORT must not be greater than 65535',
    ]);
  });

  it('STORAGE_DRIVER=s3 needs S3_BUCKET, and S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY together or neither', () => {
    const S3 = { STORAGE_DRIVER: 's3', S3_BUCKET: 'hemoday-files' };
    expect(problemsOf({ STORAGE_DRIVER: 's3' })).toEqual(['S3_BUCKET is required when STORAGE_DRIVER=s3']);
    const together = 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together (or leave both unset for the default AWS credential chain)';
    expect(problemsOf({ ...S3, S3_ACCESS_KEY_ID: 'key' })).toEqual([together]);
    expect(problemsOf({ ...S3, S3_SECRET_ACCESS_KEY: 's3-secret-1' })).toEqual([together]);
    expect(() => validateEnv({ ...S3, S3_ACCESS_KEY_ID: 'key', S3_SECRET_ACCESS_KEY: 's3-secret-1' })).not.toThrow();
    expect(() => validateEnv(S3)).not.toThrow(); // the AWS credential chain
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

  it('never repeats the value of a variable that holds a secret (the start-up log line goes to log collectors)', () => {
    const problems = problemsOf({
      JWT_SECRET: 'short-but-real-secret',
      DATABASE_URL: 'postgre://hemoday:db-password-1@db.internal:5432/hemoday',
      PORT: 'abc',
    });
    expect(problems).toContain('DATABASE_URL (value not shown): DATABASE_URL must be a postgres:// URL');
    expect(problems).toContain(`JWT_SECRET (value not shown): JWT_SECRET must be at least ${JWT_SECRET_MIN_LENGTH} characters`);
    expect(problems).toContain('PORT="abc": PORT must be an integer number'); // other values still help find a typo
    expect(problems.join('\n')).not.toMatch(/short-but-real-secret|db-password-1/);
  });

  it('a value that is not a number is told so, once, not also that it is out of range', () => {
    expect(problemsOf({ PORT: 'abc', DB_POOL_SIZE: '2.5', SYNC_FULL_PULLS_MAX: '99', DB_STATEMENT_TIMEOUT_SECONDS: '-5' })).toEqual([
      'PORT="abc": PORT must be an integer number',
      'DB_POOL_SIZE="2.5": DB_POOL_SIZE must be an integer number',
      'DB_STATEMENT_TIMEOUT_SECONDS="-5": DB_STATEMENT_TIMEOUT_SECONDS must not be less than 0', // a negative number is a number
      'SYNC_FULL_PULLS_MAX="99": SYNC_FULL_PULLS_MAX must not be greater than 64', // a number: its range still counts
    ]);
  });

  it('accepts postgres and postgresql URLs', () => {
    expect(validateEnv({ DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db' }).DATABASE_URL).toBe('postgres://u:p@127.0.0.1:5432/db');
    expect(() => validateEnv({ DATABASE_URL: 'postgresql://127.0.0.1/db' })).not.toThrow();
  });

  // Found by review: these passed the scheme check and stopped the start-up only when the pool first
  // connected, with a driver's "Invalid URL" / "URI malformed" and its stack, naming no variable.
  it.each([
    ['a port that is not a number', 'postgres://hemoday:db-password-1@db.internal:54x32/hemoday'],
    ['a password with an unencoded /', 'postgres://hemoday:db-pass/word-1@db.internal:5432/hemoday'],
    ['a password with an unencoded %', 'postgres://hemoday:db-pass%word-1@db.internal:5432/hemoday'],
  ])('refuses a DATABASE_URL the database drivers cannot parse (%s), naming the variable, not its value', (_case, url) => {
    const problems = problemsOf({ DATABASE_URL: url });
    expect(problems).toEqual([expect.stringMatching(/^DATABASE_URL \(value not shown\): DATABASE_URL is not a valid URL: postgres:\/\/user:password@host:5432\/database, /)]);
    expect(problems.join('\n')).not.toMatch(/db-pass/);
  });

  it('accepts percent-encoded credentials and a URL without a host (a Unix socket given as ?host=)', () => {
    expect(() => validateEnv({ DATABASE_URL: 'postgres://hemoday:p%40ss%2Fw%25rd@db.internal:5432/hemoday?sslmode=require' })).not.toThrow();
    expect(() => validateEnv({ DATABASE_URL: 'postgres:///hemoday?host=/var/run/postgresql' })).not.toThrow();
  });

  it('DATABASE_LISTEN_URL (the events listener\'s connection) is checked as DATABASE_URL is, never shown, and needs DATABASE_URL', () => {
    const db = 'postgres://hemoday:db-password-1@pgbouncer.internal:6432/hemoday';
    const direct = 'postgres://hemoday:db-password-1@db.internal:5432/hemoday';
    expect(validateEnv({ DATABASE_URL: db, DATABASE_LISTEN_URL: direct }).DATABASE_LISTEN_URL).toBe(direct);
    expect(validateEnv({ DATABASE_URL: db, DATABASE_LISTEN_URL: '' }).DATABASE_LISTEN_URL).toBeUndefined();
    const broken = problemsOf({ DATABASE_URL: db, DATABASE_LISTEN_URL: 'postgres://hemoday:db-pass/word-1@db.internal:5432/hemoday' });
    expect(broken).toEqual([expect.stringMatching(/^DATABASE_LISTEN_URL \(value not shown\): DATABASE_LISTEN_URL is not a valid URL: /)]);
    expect(problemsOf({ DATABASE_URL: db, DATABASE_LISTEN_URL: 'mysql://db-password-1@db' })).toEqual(['DATABASE_LISTEN_URL (value not shown): DATABASE_LISTEN_URL must be a postgres:// URL']);
    expect(problemsOf({ DATABASE_LISTEN_URL: direct })).toEqual([
      'DATABASE_LISTEN_URL (value not shown): DATABASE_LISTEN_URL needs DATABASE_URL (the embedded PostgreSQL is listened to directly)',
    ]);
    expect([...broken, ...problemsOf({ DATABASE_LISTEN_URL: direct })].join('\n')).not.toMatch(/db-pass/);
  });

  it('JWT_SECRET has the length bound of the secret file (one constant)', () => {
    expect(problemsOf({ JWT_SECRET: 'x'.repeat(JWT_SECRET_MIN_LENGTH - 1) })).toEqual([
      `JWT_SECRET (value not shown): JWT_SECRET must be at least ${JWT_SECRET_MIN_LENGTH} characters`,
    ]);
    expect(() => validateEnv({ JWT_SECRET: 'x'.repeat(JWT_SECRET_MIN_LENGTH) })).not.toThrow();
  });
});

describe('mail and password-reset settings', () => {
  const SMTP = 'smtp://mailer:smtp-password-1@mail.example.com:587';
  const PROD = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(48), DATABASE_URL: PROD_DB };

  /** The auth and mail namespaces of an environment (read from process.env, as the app does). */
  function namespacesOf(env: Record<string, string>) {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      return { auth: authConfig(), mail: mailConfig() };
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }

  it('defaults: no SMTP, links valid 30 minutes', () => {
    const env = validateEnv({});
    expect(env).toMatchObject({ PASSWORD_RESET_TTL: '30m' });
    expect(env.SMTP_URL).toBeUndefined();
    expect(env.MAIL_FROM).toBeUndefined();
    expect(env.PASSWORD_RESET_URL).toBeUndefined();
  });

  it('without SMTP_URL: the log outside production (with a default deep link), nothing in production', () => {
    expect(namespacesOf({ NODE_ENV: 'development', SMTP_URL: '', PASSWORD_RESET_URL: '' })).toMatchObject({
      mail: { transport: 'log' },
      auth: { passwordReset: { url: DEFAULT_PASSWORD_RESET_URL, ttlSeconds: 1800 } },
    });
    const production = namespacesOf({ ...PROD, SMTP_URL: '', PASSWORD_RESET_URL: '' });
    expect(production.mail.transport).toBe('off');
    expect(production.auth.passwordReset.url).toBeUndefined();
  });

  it('with SMTP_URL, MAIL_FROM and PASSWORD_RESET_URL: SMTP, with those values', () => {
    const { mail, auth } = namespacesOf({
      ...PROD,
      SMTP_URL: SMTP,
      MAIL_FROM: 'HemoDay <no-reply@example.com>',
      PASSWORD_RESET_URL: 'https://app.example.com/reset-password?token={token}',
      PASSWORD_RESET_TTL: '1h',
    });
    expect(mail).toEqual({ transport: 'smtp', smtpUrl: SMTP, from: 'HemoDay <no-reply@example.com>' });
    expect(auth.passwordReset).toEqual({ url: 'https://app.example.com/reset-password?token={token}', ttlSeconds: 3600 });
  });

  it.each(['http://mail.example.com', 'mail.example.com:587', 'smtp://', 'smtp:// bad host'])('refuses SMTP_URL=%j, without repeating it', (value) => {
    const problems = problemsOf({ SMTP_URL: value, MAIL_FROM: 'no-reply@example.com' });
    expect(problems).toEqual([expect.stringMatching(/^SMTP_URL \(value not shown\): SMTP_URL must be an smtp:\/\/ or smtps:\/\/ URL with a host/)]);
  });

  it('never repeats SMTP_URL, which holds the mail password', () => {
    expect(problemsOf({ SMTP_URL: 'smpt://mailer:smtp-password-1@mail.example.com' }).join('\n')).not.toMatch(/smtp-password-1/);
  });

  it('accepts smtp:// and smtps:// URLs, with or without credentials', () => {
    for (const url of [SMTP, 'smtps://mail.example.com:465', 'smtp://127.0.0.1:2525']) {
      expect(validateEnv({ SMTP_URL: url, MAIL_FROM: 'no-reply@example.com' }).SMTP_URL).toBe(url);
    }
  });

  it('requires MAIL_FROM with SMTP_URL, and refuses one that is not an address', () => {
    expect(problemsOf({ SMTP_URL: SMTP })).toEqual([expect.stringMatching(/^MAIL_FROM is required when SMTP_URL is set/)]);
    for (const value of ['HemoDay', 'no-reply', 'HemoDay <no-reply>', 'a b@example.com', 'no-reply@example', 'HemoDay <no-reply@example>']) {
      expect(problemsOf({ MAIL_FROM: value })).toEqual([`MAIL_FROM=${JSON.stringify(value)}: MAIL_FROM must be an address, optionally with a name: no-reply@example.com or HemoDay <no-reply@example.com>`]);
    }
    for (const value of ['no-reply@example.com', 'HemoDay <no-reply@example.com>', '"HemoDay, support" <help@hemoday.example.org>']) {
      expect(validateEnv({ MAIL_FROM: value }).MAIL_FROM).toBe(value);
    }
  });

  it('requires PASSWORD_RESET_URL with SMTP_URL in production (outside production a default deep link is used)', () => {
    expect(problemsOf({ ...PROD, SMTP_URL: SMTP, MAIL_FROM: 'no-reply@example.com' })).toEqual([
      expect.stringMatching(/^PASSWORD_RESET_URL is required when SMTP_URL is set and NODE_ENV=production/),
    ]);
    expect(() => validateEnv({ SMTP_URL: SMTP, MAIL_FROM: 'no-reply@example.com' })).not.toThrow();
    // Production without SMTP_URL starts: forgot-password answers 503.
    expect(() => validateEnv(PROD)).not.toThrow();
  });

  it.each([
    ['https://app.example.com/reset-password', /with \{token\} where the reset token goes, once/],
    ['https://app.example.com/reset/{token}?again={token}', /with \{token\} where the reset token goes, once/],
    ['reset-password?token={token}', /must be an absolute URL/],
    ['javascript:alert({token})', /javascript: links are refused/],
    ['data:text/html,{token}', /data: links are refused/],
  ])('refuses PASSWORD_RESET_URL=%j', (value, message) => {
    expect(problemsOf({ PASSWORD_RESET_URL: value })).toEqual([expect.stringMatching(new RegExp(`^PASSWORD_RESET_URL=${JSON.stringify(value).replace(/[?.{}()*+^$|\[\]\\/]/g, '\\$&')}: .*${message.source}`))]);
  });

  it('accepts https links and the app\'s own scheme; http only outside production', () => {
    for (const url of ['https://app.example.com/reset-password?token={token}', 'hemoday://reset-password?token={token}', 'https://app.example.com/r/{token}']) {
      expect(validateEnv({ ...PROD, PASSWORD_RESET_URL: url }).PASSWORD_RESET_URL).toBe(url);
    }
    expect(validateEnv({ PASSWORD_RESET_URL: 'http://localhost:8081/reset?token={token}' }).PASSWORD_RESET_URL).toBeDefined();
    expect(problemsOf({ ...PROD, PASSWORD_RESET_URL: 'http://app.example.com/reset?token={token}' })).toEqual([
      expect.stringMatching(/^PASSWORD_RESET_URL="http:\/\/app.example.com\/reset\?token=\{token\}": PASSWORD_RESET_URL must not be http:\/\/ when NODE_ENV=production/),
    ]);
  });

  it('PASSWORD_RESET_TTL: a duration from 5 minutes to 1 day', () => {
    expect(validateEnv({ PASSWORD_RESET_TTL: '5m' }).PASSWORD_RESET_TTL).toBe('5m');
    expect(validateEnv({ PASSWORD_RESET_TTL: '1d' }).PASSWORD_RESET_TTL).toBe('1d');
    expect(problemsOf({ PASSWORD_RESET_TTL: '4m' })).toEqual([expect.stringMatching(/^PASSWORD_RESET_TTL="4m": PASSWORD_RESET_TTL must be at least 5m \(a shorter link can expire before the email arrives\)$/)]);
    expect(problemsOf({ PASSWORD_RESET_TTL: '2d' })).toEqual(['PASSWORD_RESET_TTL="2d": PASSWORD_RESET_TTL must be at most 1d']);
    expect(problemsOf({ PASSWORD_RESET_TTL: 'half an hour' })[0]).toMatch(/^PASSWORD_RESET_TTL="half an hour": PASSWORD_RESET_TTL must be a duration such as 30m or 1h/);
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
