import { BlockList, isIP } from 'node:net';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  ValidateBy,
  validateSync,
} from 'class-validator';
import { JWT_SECRET_MIN_LENGTH } from '../modules/auth/jwt-secret.js';
import { MAX_GRACE_HOURS, MAX_REQUEST_TIMEOUT_SECONDS, MAX_RETENTION_DAYS, MAX_S3_TIMEOUT_SECONDS } from '../modules/documents/cleanup-limits.js';
import { SUPPORTED_FILE_TYPES } from '../modules/documents/file-type.js';
import { badCorsOrigins } from './cors-origins.js';
import { ACCESS_TTL_BOUNDS, type DurationBounds, durationProblem, formatDuration, parseDurationSeconds, PASSWORD_RESET_TTL_BOUNDS, REFRESH_TTL_BOUNDS } from './duration.js';
import { mailFromProblem, passwordResetUrlProblem, smtpUrlProblem } from './mail-settings.js';

const toInt = ({ value }: { value: unknown }) =>
  value === undefined || value === '' ? undefined : /^-?\d+$/.test(String(value)) ? Number(value) : value;
const toBool = ({ value }: { value: unknown }) =>
  value === undefined || value === '' ? undefined : value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;
const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);
/** The spellings toBool takes, named when a value is refused ("must be a boolean value" did not say which). */
const BOOLEAN = { message: (args: { property: string }) => `${args.property} must be true or false (or 1 or 0)` };

/**
 * TRUST_PROXY as Express's 'trust proxy' takes it, minus `true`: `false`, a hop
 * count, or the proxies' addresses and subnets (plus Express's names
 * `loopback`, `linklocal`, `uniquelocal`).
 */
export type TrustProxy = false | number | string[];
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isProxyAddress(entry: string): boolean {
  if (PROXY_NAMES.has(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (!family || rest.length) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

/** IPv4 clients as a dual-stack socket reports them (`::ffff:1.2.3.4`). */
const IPV4_MAPPED = new BlockList();
IPV4_MAPPED.addSubnet('::ffff:0:0', 96, 'ipv6');

/**
 * A subnet wider than any range proxies sit in (10.0.0.0/8; fc00::/7, `uniquelocal`): every client in
 * it could choose its IP with X-Forwarded-For, as with TRUST_PROXY=true. IPv4-mapped IPv6 counts as
 * IPv4 (`::ffff:0:0/96` is every IPv4 client). A /0 also stopped the start-up with Express's own error.
 */
function isTooWide(entry: string): boolean {
  const [address, prefix] = entry.split('/');
  if (prefix === undefined || PROXY_NAMES.has(entry)) return false;
  const bits = Number(prefix);
  if (isIP(address) === 4) return bits < 8;
  const subnet = new BlockList();
  subnet.addSubnet(address, bits, 'ipv6');
  const mapped = IPV4_MAPPED.check(address, 'ipv6') || subnet.check('::ffff:0.0.0.0', 'ipv6');
  return bits < (mapped ? 96 + 8 : 7);
}

/** A valid value becomes false, a hop count or an address list; anything else stays a string for the validator to name. */
const toTrustProxy = ({ value }: { value: unknown }) => {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  if (trimmed === 'false' || trimmed === '0') return false;
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const entries = trimmed.split(',').map((e) => e.trim());
  return entries.every((e) => isProxyAddress(e) && !isTooWide(e)) ? entries : value;
};

function IsTrustProxy() {
  return ValidateBy({
    name: 'isTrustProxy',
    validator: {
      validate: (value: unknown) => value === false || (Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 100) || Array.isArray(value),
      defaultMessage: (args) => {
        const value = String(args?.value).trim();
        const wide = value.split(',').map((e) => e.trim()).filter((e) => isProxyAddress(e) && isTooWide(e));
        const trustsAnyone =
          value === 'true'
            ? 'TRUST_PROXY=true would trust every hop'
            : wide.length
              ? `${wide.join(', ')} would trust every client in a range wider than a proxy network (at most /8 of IPv4, /104 of IPv4-mapped IPv6, /7 of IPv6)`
              : undefined;
        if (trustsAnyone) {
          return `${trustsAnyone}, so any client could choose its IP with X-Forwarded-For (and escape the per-IP login limits); ` +
            'set the number of proxies in front of the app (1 for one reverse proxy) or their addresses/subnets';
        }
        return 'TRUST_PROXY must be false, a hop count from 1 to 100, or a comma-separated list of proxy addresses/subnets (loopback, uniquelocal, 10.0.0.0/8, …)';
      },
    },
  });
}

/** A duration (`900`, `15m`, `12h`, `60d`) within `bounds`; the message says which rule it broke. */
function IsDuration(bounds: DurationBounds, example: string) {
  return ValidateBy({
    name: 'isDuration',
    validator: {
      validate: (value: unknown) => durationProblem(value, bounds) === undefined,
      defaultMessage: (args) => {
        const name = args?.property ?? 'the duration';
        const range = `from ${formatDuration(bounds.min)} to ${formatDuration(bounds.max)}`;
        switch (durationProblem(args?.value, bounds)) {
          case 'short':
            return `${name} must be at least ${formatDuration(bounds.min)} (${bounds.minReason})`;
          case 'long':
            return `${name} must be at most ${formatDuration(bounds.max)}`;
          default:
            return `${name} must be a duration such as ${example} (seconds, or a number with ms, s, m, h or d), ${range}`;
        }
      },
    },
  });
}

/**
 * Why DATABASE_URL cannot be used, or undefined. A URL the drivers cannot parse (a port that is not a
 * number, a password with an unencoded `/`, `#`, `?` or `%`) was accepted here and stopped the start-up
 * later with a driver's "Invalid URL" or "URI malformed" and a stack, naming no variable. The value
 * holds a password: the message never repeats it.
 */
export function databaseUrlProblem(value: unknown, name = 'DATABASE_URL'): string | undefined {
  if (typeof value !== 'string' || !/^postgres(ql)?:\/\/.+/.test(value)) return `${name} must be a postgres:// URL`;
  try {
    // As the drivers read it: pg parses it with URL, TypeORM decodes the user and the password.
    const url = new URL(value);
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
    return undefined;
  } catch {
    return (
      `${name} is not a valid URL: postgres://user:password@host:5432/database, the port a number, ` +
      'special characters of the user and password percent-encoded (@ → %40, / → %2F, % → %25, # → %23, ? → %3F)'
    );
  }
}

/** A value `problem` finds nothing wrong with; its message is `problem`'s. */
function Satisfies(name: string, problem: (value: unknown) => string | undefined) {
  return ValidateBy({
    name,
    validator: {
      validate: (value: unknown) => problem(value) === undefined,
      defaultMessage: (args) => problem(args?.value) ?? '',
    },
  });
}

function IsCorsOrigins() {
  return ValidateBy({
    name: 'isCorsOrigins',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && badCorsOrigins(value).length === 0,
      defaultMessage: (args) => {
        const bad = (typeof args?.value === 'string' ? badCorsOrigins(args.value) : []).map((entry) => (entry ? JSON.stringify(entry) : 'an empty entry'));
        return (
          `CORS_ORIGINS lists ${bad.join(', ')}, which ${bad.length > 1 ? 'are not origins' : 'is not an origin'}: ` +
          'list origins such as https://app.example.com or http://localhost:8081 (http or https, a host, an optional port; ' +
          'no path, no trailing slash), comma-separated, or set * for any origin or none to turn CORS off'
        );
      },
    },
  });
}

/**
 * Every environment variable the service reads. Validated once at start-up;
 * a bad value stops the process with one line per problem.
 */
export class EnvironmentVariables {
  @IsOptional() @IsIn(['development', 'production', 'test'])
  NODE_ENV: 'development' | 'production' | 'test' = 'development';

  @Transform(toInt) @IsOptional() @IsInt() @Min(0) @Max(65535)
  PORT: number = 3000;

  @IsOptional() @IsString()
  HOST: string = '127.0.0.1';

  @Transform(emptyToUndefined) @IsOptional() @Satisfies('isDatabaseUrl', databaseUrlProblem)
  DATABASE_URL?: string;

  /**
   * The same database, reached directly (or through a pooler in session mode), for the instance's
   * one LISTEN connection of the "sync now" events: LISTEN does not survive transaction pooling.
   */
  @Transform(emptyToUndefined) @IsOptional() @Satisfies('isDatabaseListenUrl', (value) => databaseUrlProblem(value, 'DATABASE_LISTEN_URL'))
  DATABASE_LISTEN_URL?: string;

  @Transform(emptyToUndefined) @IsOptional() @IsString()
  DATA_DIR?: string;

  /** Connections per app instance (keep instances × this below PostgreSQL's max_connections). */
  @Transform(toInt) @IsOptional() @IsInt() @Min(2) @Max(500)
  DB_POOL_SIZE: number = 20;

  /**
   * Longest a statement may run, or a transaction stay idle, before PostgreSQL cancels it (a push
   * waiting on a stalled lock holder, a vanished instance's open transaction); an unanswered
   * statement's connection is closed this plus 5 s later (a vanished database). 0 = no limits.
   */
  @Transform(toInt) @IsOptional() @IsInt() @Min(0) @Max(3600)
  DB_STATEMENT_TIMEOUT_SECONDS: number = 60;

  /**
   * The sync path's statements (and the guard's look-up) are kept prepared on each connection:
   * planned once per connection, not per request. false for a pooler in front of PostgreSQL that
   * cannot carry protocol-level prepared statements (PgBouncer in transaction mode before 1.21, or
   * with max_prepared_statements = 0).
   */
  @Transform(toBool) @IsOptional() @IsBoolean(BOOLEAN)
  DB_PREPARED_STATEMENTS: boolean = true;

  @Transform(toInt) @IsOptional() @IsInt() @Min(1) @Max(65535)
  EMBEDDED_PG_PORT: number = 54329;

  @Transform(emptyToUndefined) @IsOptional() @IsString()
  @MinLength(JWT_SECRET_MIN_LENGTH, { message: `JWT_SECRET must be at least ${JWT_SECRET_MIN_LENGTH} characters` })
  JWT_SECRET?: string;

  /** 10 s to 1 day (ACCESS_TTL_BOUNDS). */
  @IsOptional() @IsDuration(ACCESS_TTL_BOUNDS, '900, 15m or 1h')
  JWT_ACCESS_TTL: string = '15m';

  /** 1 hour to 10 years (REFRESH_TTL_BOUNDS). */
  @IsOptional() @IsDuration(REFRESH_TTL_BOUNDS, '60d')
  JWT_REFRESH_TTL: string = '60d';

  @IsOptional() @IsString()
  UPLOAD_DIR: string = 'uploads';

  @Transform(toInt) @IsOptional() @IsInt() @Min(1)
  UPLOAD_MAX_BYTES: number = 20 * 1024 * 1024;

  /**
   * The bytes of stored files one family may hold (every file not yet removed by files:cleanup): one
   * family, or one stolen account, cannot fill the disk or the bucket every family shares. Up to 1 PiB.
   */
  @Transform(toInt) @IsOptional() @IsInt() @Min(1) @Max(2 ** 50)
  UPLOAD_FAMILY_MAX_BYTES: number = 10 * 1024 ** 3;

  /**
   * STORAGE_DRIVER=local: uploads are refused (503 STORAGE_UNAVAILABLE, a warning) while the disk
   * under UPLOAD_DIR has less free space than this, so that they never fill the disk PostgreSQL and
   * the logs may share. 0 turns the check off.
   */
  @Transform(toInt) @IsOptional() @IsInt() @Min(0) @Max(2 ** 50)
  UPLOAD_MIN_FREE_BYTES: number = 1024 ** 3;

  /** Comma-separated MIME types accepted by POST /api/v1/upload (checked from the file's bytes). */
  @IsOptional() @Matches(/^\s*[a-z]+\/[a-z0-9.+-]+\s*(,\s*[a-z]+\/[a-z0-9.+-]+\s*)*$/, {
    message: 'UPLOAD_ALLOWED_TYPES must be a comma-separated list of MIME types',
  })
  UPLOAD_ALLOWED_TYPES: string = 'application/pdf,image/jpeg,image/png,image/heic,image/heif,image/webp';

  @IsOptional() @IsIn(['local', 's3'])
  STORAGE_DRIVER: 'local' | 's3' = 'local';

  @Transform(emptyToUndefined) @IsOptional() @Matches(/^https?:\/\/.+/, { message: 'S3_ENDPOINT must be an http(s) URL' })
  S3_ENDPOINT?: string;

  @Transform(emptyToUndefined) @IsOptional() @IsString()
  S3_BUCKET?: string;

  @IsOptional() @IsString()
  S3_REGION: string = 'us-east-1';

  @Transform(emptyToUndefined) @IsOptional() @IsString()
  S3_ACCESS_KEY_ID?: string;

  @Transform(emptyToUndefined) @IsOptional() @IsString()
  S3_SECRET_ACCESS_KEY?: string;

  /** Path-style URLs (endpoint/bucket/key): what MinIO, Garage, SeaweedFS… expect. */
  @Transform(toBool) @IsOptional() @IsBoolean(BOOLEAN)
  S3_FORCE_PATH_STYLE: boolean = true;

  /**
   * How long connecting to object storage may take, and how long a connection may stay silent,
   * before the attempt fails (the SDK makes up to 3; then 503 STORAGE_UNAVAILABLE). Without it an
   * endpoint that accepted connections and never answered held uploads, downloads and files:cleanup
   * forever. At most MAX_S3_TIMEOUT_SECONDS (60), so a finished upload is recorded before the
   * orphan sweep could take its object for debris.
   */
  @Transform(toInt) @IsOptional() @IsInt() @Min(1) @Max(MAX_S3_TIMEOUT_SECONDS)
  S3_TIMEOUT_SECONDS: number = 30;

  /** Files that no document references are kept this long (a device may upload, then push later). */
  @Transform(toInt) @IsOptional() @IsInt() @Min(0) @Max(MAX_GRACE_HOURS)
  FILE_CLEANUP_GRACE_HOURS: number = 24;

  /** Files of deleted (tombstoned) documents are kept this long after the deletion. */
  @Transform(toInt) @IsOptional() @IsInt() @Min(0) @Max(MAX_RETENTION_DAYS)
  DOCUMENT_RETENTION_DAYS: number = 30;

  @IsOptional() @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL: string = 'info';

  /** Comma-separated browser origins allowed by CORS, `*` for any (bearer tokens, no cookies), `none` to disable. */
  @IsOptional() @IsCorsOrigins()
  CORS_ORIGINS: string = '*';

  @Transform(toInt) @IsOptional() @IsInt() @Min(1024)
  BODY_LIMIT_BYTES: number = 1024 * 1024;

  /**
   * How long a request may take to arrive, headers and body (Node's requestTimeout; 408 past it):
   * what caps an upload or a push on a slow network. Below MAX_REQUEST_TIMEOUT_SECONDS, so that an
   * object still being uploaded never looks like debris to files:cleanup (ORPHAN_MIN_AGE_HOURS).
   */
  @Transform(toInt) @IsOptional() @IsInt() @Min(60) @Max(MAX_REQUEST_TIMEOUT_SECONDS)
  REQUEST_TIMEOUT_SECONDS: number = 300;

  /**
   * How long an answer may wait for a client that has stopped reading it (nginx's send_timeout; the
   * connection is closed past it): see sendTimeout. 1 s to 1 hour.
   */
  @Transform(toInt) @IsOptional() @IsInt() @Min(1) @Max(3600)
  SEND_TIMEOUT_SECONDS: number = 60;

  /** A push is parsed in memory (string, then objects): 256 MiB is far above any real offline history. */
  @Transform(toInt) @IsOptional() @IsInt() @Min(1024) @Max(256 * 1024 * 1024)
  SYNC_BODY_LIMIT_BYTES: number = 64 * 1024 * 1024;

  /**
   * Large full pulls (a first sync or a replacement of a family whose live rows take more than
   * SYNC_FULL_PULL_TURN_BYTES) run at once per app instance, at most. PostgreSQL builds each whole
   * answer in one backend, which peaks at about 30× the answer's size: unbounded, a few large
   * families syncing at once (or one account asking again and again) ran it out of memory.
   */
  @Transform(toInt) @IsOptional() @IsInt() @Min(1) @Max(64)
  SYNC_FULL_PULLS_MAX: number = 2;

  /** A full pull of a family whose live rows take more than this (bytes, as stored) waits for a turn; smaller ones never do. */
  @Transform(toInt) @IsOptional() @IsInt() @Min(0)
  SYNC_FULL_PULL_TURN_BYTES: number = 8 * 1024 * 1024;

  /**
   * The most rows a family may have in the synced data tables, deleted ones included (a deletion
   * keeps its row as a tombstone): a push or upload that would go past it is refused with 413. Two
   * years of a real family's history are a few hundred; the limit is there against one account
   * filling the database every family shares.
   */
  @Transform(toInt) @IsOptional() @IsInt() @Min(1)
  SYNC_FAMILY_MAX_RECORDS: number = 1_000_000;

  /** How long a full pull waits for its turn before it is answered 503 with Retry-After. */
  @Transform(toInt) @IsOptional() @IsInt() @Min(1) @Max(600)
  SYNC_FULL_PULL_WAIT_SECONDS: number = 30;

  /**
   * New installations (an X-Device-Id with no sync_cursors row in the caller's family nor
   * sync_last_pushes row of the caller) one user may start syncing per window: each adds rows kept
   * for good, and a client sending a new id with every sync added ~150 a second. A reinstall, a new
   * phone or a cleared app is one; 20 an hour is far above what a family does.
   */
  @Transform(toInt) @IsOptional() @IsInt() @Min(1)
  SYNC_NEW_INSTALLATION_LIMIT: number = 20;

  /** At most a day, as AUTH_RATE_WINDOW_SECONDS: the window holds a refused account (and its Retry-After) this long. */
  @Transform(toInt) @IsOptional() @IsInt() @Min(1) @Max(86_400)
  SYNC_NEW_INSTALLATION_WINDOW_SECONDS: number = 3600;

  @Transform(toInt) @IsOptional() @IsInt() @Min(1)
  AUTH_RATE_LIMIT: number = 10;

  /** At most a day: the window holds a failing account (and its Retry-After) this long. */
  @Transform(toInt) @IsOptional() @IsInt() @Min(1) @Max(86_400)
  AUTH_RATE_WINDOW_SECONDS: number = 60;

  /**
   * argon2id cost. Defaults: the library's (64 MiB, 3 passes, 4 lanes). The floors are OWASP's
   * minimum for argon2id (19 MiB, 2 passes, 1 lane): lower is refused, so a setting can make hashing
   * cheaper (small machines, the test suite) but never weak.
   */
  @Transform(toInt) @IsOptional() @IsInt() @Min(19 * 1024) @Max(4 * 1024 * 1024)
  PASSWORD_HASH_MEMORY_KIB: number = 64 * 1024;

  @Transform(toInt) @IsOptional() @IsInt() @Min(2) @Max(20)
  PASSWORD_HASH_ITERATIONS: number = 3;

  @Transform(toInt) @IsOptional() @IsInt() @Min(1) @Max(64)
  PASSWORD_HASH_PARALLELISM: number = 4;

  /**
   * The mail server of password-reset emails (smtp:// or smtps://, with its user and password).
   * Unset: outside production the emails are written to the log instead; in production
   * POST /auth/forgot-password answers 503 PASSWORD_RESET_UNAVAILABLE.
   */
  @Transform(emptyToUndefined) @IsOptional() @Satisfies('isSmtpUrl', smtpUrlProblem)
  SMTP_URL?: string;

  /** The sender of those emails; required with SMTP_URL. */
  @Transform(emptyToUndefined) @IsOptional() @Satisfies('isMailFrom', mailFromProblem)
  MAIL_FROM?: string;

  /**
   * The link a reset email carries, `{token}` standing for the token: the app's deep link or an https
   * page that opens it. Outside production it defaults to DEFAULT_PASSWORD_RESET_URL; in production it
   * is required with SMTP_URL. Whether http:// is allowed depends on NODE_ENV (checked in validateEnv).
   */
  @Transform(emptyToUndefined) @IsOptional() @Satisfies('isPasswordResetUrl', (value) => passwordResetUrlProblem(value, false))
  PASSWORD_RESET_URL?: string;

  /** How long a reset link works, 5 minutes to 1 day (PASSWORD_RESET_TTL_BOUNDS). */
  @IsOptional() @IsDuration(PASSWORD_RESET_TTL_BOUNDS, '30m or 1h')
  PASSWORD_RESET_TTL: string = '30m';

  /**
   * Which hops in front of the app are proxies whose X-Forwarded-For may be believed (client IP for
   * rate limits and logs). A hop count counts from the right of the header, so the client's own
   * (left-most, forgeable) entries are never used; `true` (trust everything) is refused.
   */
  @Transform(toTrustProxy) @IsOptional() @IsTrustProxy()
  TRUST_PROXY: TrustProxy = false;
}

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigValidationError';
  }
}

/**
 * Variables whose value is (or holds) a secret: a problem names them without repeating the value,
 * which would go into the fatal start-up line and so to every log collector (a mistyped
 * DATABASE_URL carries the database password).
 */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set(['JWT_SECRET', 'DATABASE_URL', 'DATABASE_LISTEN_URL', 'S3_SECRET_ACCESS_KEY', 'SMTP_URL']);

function shownValue(name: string, value: unknown): string {
  return SECRET_VARIABLES.has(name) ? `${name} (value not shown)` : `${name}=${JSON.stringify(value ?? null)}`;
}

/** HOST values whose listening socket takes the port on 127.0.0.1 too, where the embedded PostgreSQL listens. */
const SHARES_LOOPBACK_PORTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '0.0.0.0', '::']);

export function validateEnv(raw: Record<string, unknown>): EnvironmentVariables {
  // `PORT=` (empty, as .env files and compose files often leave it) means "unset": drop it so the default applies,
  // rather than letting the transform turn it into an undefined that IsOptional waves through.
  const present = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== ''));
  const env = plainToInstance(EnvironmentVariables, present, { exposeDefaultValues: true });
  const problems = validateSync(env, { skipMissingProperties: false }).flatMap((e) => {
    const constraints = e.constraints ?? {};
    // A value that is not a number breaks its range too: `PORT=abc` said "must not be greater than
    // 65535", "must not be less than 0" and "must be an integer number". Only the last is the problem.
    const messages = constraints.isInt && typeof e.value !== 'number' ? [constraints.isInt] : Object.values(constraints);
    return messages.map((m) => `${shownValue(e.property, raw[e.property])}: ${m}`);
  });
  if (env.NODE_ENV === 'production' && !env.JWT_SECRET) {
    problems.push(`JWT_SECRET is required when NODE_ENV=production (at least ${JWT_SECRET_MIN_LENGTH} random characters)`);
  }
  if (env.NODE_ENV === 'production' && !env.DATABASE_URL) {
    // The embedded server is for development and tests; production data belongs on a managed, backed-up server.
    problems.push('DATABASE_URL is required when NODE_ENV=production (the embedded PostgreSQL is for development)');
  }
  if (env.DATABASE_LISTEN_URL && !env.DATABASE_URL) {
    problems.push('DATABASE_LISTEN_URL (value not shown): DATABASE_LISTEN_URL needs DATABASE_URL (the embedded PostgreSQL is listened to directly)');
  }
  const portProblems = problems.some((p) => p.startsWith('PORT=') || p.startsWith('EMBEDDED_PG_PORT='));
  if (!portProblems && !env.DATABASE_URL && env.PORT === env.EMBEDDED_PG_PORT && SHARES_LOOPBACK_PORTS.has(env.HOST)) {
    // The embedded PostgreSQL took the port first, and the start-up then said "127.0.0.1:<port> is already
    // in use: stop what listens there", pointing at the app's own database (found by review).
    const named = raw.PORT === undefined || raw.PORT === '' ? 'EMBEDDED_PG_PORT' : 'PORT';
    problems.push(
      `${named}=${JSON.stringify(raw[named])}: PORT and EMBEDDED_PG_PORT are both ${env.PORT}: the embedded PostgreSQL listens on ` +
        `127.0.0.1:${env.EMBEDDED_PG_PORT}, so the API cannot; set one of them to another port`,
    );
  }
  const unsupportedTypes = typeof env.UPLOAD_ALLOWED_TYPES === 'string' && !problems.some((p) => p.startsWith('UPLOAD_ALLOWED_TYPES='))
    ? env.UPLOAD_ALLOWED_TYPES.split(',').map((t) => t.trim()).filter((t) => t && !SUPPORTED_FILE_TYPES.includes(t))
    : [];
  if (unsupportedTypes.length) {
    // The type is sniffed from the bytes: a type the server cannot recognize would be refused anyway.
    problems.push(
      `UPLOAD_ALLOWED_TYPES=${JSON.stringify(raw.UPLOAD_ALLOWED_TYPES)}: UPLOAD_ALLOWED_TYPES lists ${unsupportedTypes.join(', ')}, which the server cannot recognize; supported are ${SUPPORTED_FILE_TYPES.join(', ')}`,
    );
  }
  const ttlProblems = problems.some((p) => p.startsWith('JWT_ACCESS_TTL=') || p.startsWith('JWT_REFRESH_TTL='));
  if (!ttlProblems && parseDurationSeconds(env.JWT_ACCESS_TTL) > parseDurationSeconds(env.JWT_REFRESH_TTL)) {
    // An access token lives no longer than its sign-in (its refresh token); the sweep of expired refresh tokens relies on it.
    problems.push(`JWT_ACCESS_TTL=${JSON.stringify(env.JWT_ACCESS_TTL)}: JWT_ACCESS_TTL must not be longer than JWT_REFRESH_TTL (${env.JWT_REFRESH_TTL})`);
  }
  const uploadLimitProblems = problems.some((p) => p.startsWith('UPLOAD_MAX_BYTES=') || p.startsWith('UPLOAD_FAMILY_MAX_BYTES='));
  if (!uploadLimitProblems && env.UPLOAD_FAMILY_MAX_BYTES < env.UPLOAD_MAX_BYTES) {
    // A file the per-file limit accepts could never be stored, even in an empty family, and its 413 would
    // say STORAGE_QUOTA_EXCEEDED (free space) instead of PAYLOAD_TOO_LARGE (a smaller file).
    const shown = raw.UPLOAD_FAMILY_MAX_BYTES === undefined || raw.UPLOAD_FAMILY_MAX_BYTES === ''
      ? `UPLOAD_FAMILY_MAX_BYTES (default ${env.UPLOAD_FAMILY_MAX_BYTES})`
      : shownValue('UPLOAD_FAMILY_MAX_BYTES', raw.UPLOAD_FAMILY_MAX_BYTES);
    problems.push(`${shown}: UPLOAD_FAMILY_MAX_BYTES must not be smaller than UPLOAD_MAX_BYTES (${env.UPLOAD_MAX_BYTES}), the largest single file`);
  }
  if (env.STORAGE_DRIVER === 's3' && !env.S3_BUCKET) {
    problems.push('S3_BUCKET is required when STORAGE_DRIVER=s3');
  }
  if (env.STORAGE_DRIVER === 's3' && !env.S3_ACCESS_KEY_ID !== !env.S3_SECRET_ACCESS_KEY) {
    problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together (or leave both unset for the default AWS credential chain)');
  }
  if (env.SMTP_URL && !env.MAIL_FROM) {
    problems.push('MAIL_FROM is required when SMTP_URL is set: the sender of password-reset emails, e.g. HemoDay <no-reply@example.com>');
  }
  if (env.NODE_ENV === 'production' && env.SMTP_URL && !env.PASSWORD_RESET_URL) {
    // Outside production a default deep link is used; a production app's link is its own.
    problems.push('PASSWORD_RESET_URL is required when SMTP_URL is set and NODE_ENV=production: the link of password-reset emails, with {token}, e.g. https://app.example.com/reset-password?token={token}');
  }
  const resetUrlProblem = env.PASSWORD_RESET_URL && !problems.some((p) => p.startsWith('PASSWORD_RESET_URL='))
    ? passwordResetUrlProblem(env.PASSWORD_RESET_URL, env.NODE_ENV === 'production')
    : undefined;
  if (resetUrlProblem) problems.push(`${shownValue('PASSWORD_RESET_URL', raw.PASSWORD_RESET_URL)}: ${resetUrlProblem}`);
  if (problems.length) throw new ConfigValidationError(problems);
  return env;
}

let lastValidated: { key: string; env: EnvironmentVariables } | undefined;

/**
 * validateEnv, done once per environment: the configuration namespaces, server.ts and the config
 * module each ask for the validated environment as they start, and all but the first get the
 * result already made. An environment with other values (a test app started with overrides) is
 * validated anew; an invalid one throws every time it is asked for (nothing is kept).
 */
export function validatedEnv(raw: Record<string, unknown> = process.env): EnvironmentVariables {
  const key = JSON.stringify(Object.entries(raw));
  if (lastValidated?.key !== key) lastValidated = { key, env: validateEnv(raw) };
  return lastValidated.env;
}
