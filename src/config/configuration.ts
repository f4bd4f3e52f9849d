import { registerAs } from '@nestjs/config';
import { resolve } from 'node:path';
import { corsOrigins } from './cors-origins.js';
import { parseDurationSeconds } from './duration.js';
import { validatedEnv } from './env.validation.js';

/** PASSWORD_RESET_URL outside production when unset: the app's own deep link, so the flow works on a fresh machine. */
export const DEFAULT_PASSWORD_RESET_URL = 'hemoday://reset-password?token={token}';
/** MAIL_FROM of the emails written to the log (development, tests: no SMTP_URL). */
const LOG_MAIL_FROM = 'HemoDay <no-reply@localhost.invalid>';

/**
 * Typed configuration namespaces over the environment validated once (validatedEnv: the first
 * namespace read validates, the others reuse the result); services inject them with
 * `@Inject(xConfig.KEY) cfg: ConfigType<typeof xConfig>`.
 */
export const appConfig = registerAs('app', () => {
  const env = validatedEnv();
  return {
    nodeEnv: env.NODE_ENV,
    isProduction: env.NODE_ENV === 'production',
    dataDir: resolve(env.DATA_DIR ?? '.data'),
    logLevel: env.LOG_LEVEL,
  };
});

export const httpConfig = registerAs('http', () => {
  const env = validatedEnv();
  return {
    port: env.PORT,
    host: env.HOST,
    corsOrigins: corsOrigins(env.CORS_ORIGINS),
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    requestTimeoutMs: env.REQUEST_TIMEOUT_SECONDS * 1000,
    sendTimeoutMs: env.SEND_TIMEOUT_SECONDS * 1000,
    syncBodyLimitBytes: env.SYNC_BODY_LIMIT_BYTES,
    trustProxy: env.TRUST_PROXY,
  };
});

export const databaseConfig = registerAs('database', () => {
  const env = validatedEnv();
  return {
    url: env.DATABASE_URL,
    /** The LISTEN connection's (sync events); unset: `url`'s. */
    listenUrl: env.DATABASE_LISTEN_URL,
    poolSize: env.DB_POOL_SIZE,
    statementTimeoutSeconds: env.DB_STATEMENT_TIMEOUT_SECONDS,
    preparedStatements: env.DB_PREPARED_STATEMENTS,
    embeddedPort: env.EMBEDDED_PG_PORT,
    embeddedDataDir: resolve(env.DATA_DIR ?? '.data', 'postgres'),
  };
});

export const authConfig = registerAs('auth', () => {
  const env = validatedEnv();
  return {
    jwtSecret: env.JWT_SECRET,
    accessTtlSeconds: parseDurationSeconds(env.JWT_ACCESS_TTL),
    refreshTtlSeconds: parseDurationSeconds(env.JWT_REFRESH_TTL),
    rateLimit: env.AUTH_RATE_LIMIT,
    rateWindowSeconds: env.AUTH_RATE_WINDOW_SECONDS,
    passwordHash: {
      memoryCost: env.PASSWORD_HASH_MEMORY_KIB,
      timeCost: env.PASSWORD_HASH_ITERATIONS,
      parallelism: env.PASSWORD_HASH_PARALLELISM,
    },
    passwordReset: {
      /** The link template (`{token}`); undefined only in production without SMTP_URL, where resets by email are off. */
      url: env.PASSWORD_RESET_URL ?? (env.NODE_ENV === 'production' ? undefined : DEFAULT_PASSWORD_RESET_URL),
      ttlSeconds: parseDurationSeconds(env.PASSWORD_RESET_TTL),
    },
  };
});

/**
 * Outgoing email. `transport`: `smtp` with SMTP_URL; without it `log` (the message is written to the
 * log: development and tests) or, in production, `off` (nothing can be sent: forgot-password answers 503).
 */
export const mailConfig = registerAs('mail', () => {
  const env = validatedEnv();
  const transport: 'smtp' | 'log' | 'off' = env.SMTP_URL ? 'smtp' : env.NODE_ENV === 'production' ? 'off' : 'log';
  return {
    transport,
    smtpUrl: env.SMTP_URL,
    from: env.MAIL_FROM ?? LOG_MAIL_FROM,
  };
});

export const uploadConfig = registerAs('upload', () => {
  const env = validatedEnv();
  return {
    dir: resolve(env.UPLOAD_DIR),
    maxBytes: env.UPLOAD_MAX_BYTES,
    familyMaxBytes: env.UPLOAD_FAMILY_MAX_BYTES,
    minFreeBytes: env.UPLOAD_MIN_FREE_BYTES,
    allowedTypes: env.UPLOAD_ALLOWED_TYPES.split(',').map((t) => t.trim()).filter(Boolean),
    cleanupGraceHours: env.FILE_CLEANUP_GRACE_HOURS,
    documentRetentionDays: env.DOCUMENT_RETENTION_DAYS,
    storage: {
      driver: env.STORAGE_DRIVER,
      s3: {
        endpoint: env.S3_ENDPOINT,
        bucket: env.S3_BUCKET ?? '',
        region: env.S3_REGION,
        accessKeyId: env.S3_ACCESS_KEY_ID,
        secretAccessKey: env.S3_SECRET_ACCESS_KEY,
        forcePathStyle: env.S3_FORCE_PATH_STYLE,
        timeoutSeconds: env.S3_TIMEOUT_SECONDS,
      },
    },
  };
});

export const syncConfig = registerAs('sync', () => {
  const env = validatedEnv();
  return {
    fullPullsMax: env.SYNC_FULL_PULLS_MAX,
    fullPullTurnBytes: env.SYNC_FULL_PULL_TURN_BYTES,
    fullPullWaitSeconds: env.SYNC_FULL_PULL_WAIT_SECONDS,
    familyMaxRecords: env.SYNC_FAMILY_MAX_RECORDS,
    newInstallationLimit: env.SYNC_NEW_INSTALLATION_LIMIT,
    newInstallationWindowSeconds: env.SYNC_NEW_INSTALLATION_WINDOW_SECONDS,
  };
});

export const allConfigs = [appConfig, httpConfig, databaseConfig, authConfig, mailConfig, uploadConfig, syncConfig];
