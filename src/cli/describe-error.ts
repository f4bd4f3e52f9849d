import { QueryFailedError } from 'typeorm';
import { ConfigValidationError } from '../config/env.validation.js';
import { DomainError } from '../common/errors/domain-error.js';
import { READ_ONLY_SQL_TRANSACTION, sqlStateOf } from '../common/postgres-errors.js';
import { StorageUnavailableError } from '../modules/documents/storage/file-storage.js';
import { CliError } from './cli-error.js';

const CONNECTION_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  '28P01': 'authentication failed',
  '28000': 'authentication failed',
  '3D000': 'database does not exist',
};

/**
 * One line for any failure. Expected ones (our own, domain rules, bad
 * configuration, an unreachable database) read as plain sentences; anything
 * else is reported by its message, still without a stack trace.
 */
export function describeError(error: unknown): string {
  // Before the database's connection codes: the S3 client's socket errors carry the same ones.
  if (error instanceof StorageUnavailableError) {
    return `object storage is unreachable or not answering (${error.reason}); check S3_ENDPOINT and the storage service, then run the command again`;
  }
  if (error instanceof CliError || error instanceof DomainError) return error.message;
  if (error instanceof ConfigValidationError) return `invalid configuration: ${error.problems.join('; ')}`;
  const connection = connectionProblem(error);
  if (connection) return `cannot reach the database (${connection}); check DATABASE_URL or that PostgreSQL is running`;
  // PostgreSQL's words ("cannot execute INSERT in a read-only transaction") named neither the cause nor the fix.
  if (sqlStateOf(error) === READ_ONLY_SQL_TRANSACTION) {
    return `the database is read-only (${firstLine((error as Error).message)}): a hot standby, or default_transaction_read_only is on; check that DATABASE_URL names the primary, then run the command again`;
  }
  if (error instanceof QueryFailedError) return `database error: ${firstLine(error.message)}`;
  if (error instanceof Error) return firstLine(error.message) || error.name;
  return firstLine(String(error ?? 'unknown error'));
}

/**
 * node-postgres's own words, with no code: a server that accepts the connection but never answers (or
 * a firewall that drops it) fails the pool's 10 s connectionTimeoutMillis; one that goes away closes it.
 */
const CONNECTION_MESSAGES: Array<[RegExp, string]> = [
  [/^Connection terminated due to connection timeout|^timeout exceeded when trying to connect/, 'no answer within the connection timeout'],
  [/^Connection terminated unexpectedly/, 'the connection was closed'],
];

function connectionProblem(error: unknown): string | undefined {
  // pg on Node 20 reports a refused localhost (::1 and 127.0.0.1) as an AggregateError with an empty message.
  const candidates = error instanceof AggregateError ? [error, ...error.errors] : [error];
  const driverError = error instanceof QueryFailedError ? (error.driverError as unknown) : error;
  const message = (driverError as { message?: unknown } | null)?.message;
  if (typeof message === 'string') {
    const known = CONNECTION_MESSAGES.find(([pattern]) => pattern.test(message));
    if (known) return known[1];
  }
  for (const candidate of candidates) {
    const code = (candidate as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && CONNECTION_CODES[code]) {
      const address = (candidate as { address?: string; port?: number }).address;
      const port = (candidate as { port?: number }).port;
      return address && port ? `${CONNECTION_CODES[code]} at ${address}:${port}` : CONNECTION_CODES[code];
    }
  }
  return undefined;
}

function firstLine(message: string): string {
  return message.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
}
