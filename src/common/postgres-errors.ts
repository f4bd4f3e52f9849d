import { QueryFailedError } from 'typeorm';
import { UNREACHABLE_ERRNO } from './unreachable-errno.js';

/** PostgreSQL's SQLSTATE for a duplicate key in a unique index or constraint. */
export const UNIQUE_VIOLATION = '23505';

/** The statement failed on a unique index (a duplicate email, a colliding invite code). */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof QueryFailedError && (error.driverError as { code?: string } | undefined)?.code === UNIQUE_VIOLATION;
}

/** The SQLSTATE of a failed statement, or undefined. */
export function sqlStateOf(error: unknown): string | undefined {
  const code = error instanceof QueryFailedError ? (error.driverError as { code?: unknown } | undefined)?.code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The database ended the transaction to resolve a conflict between transactions: a deadlock
 * (40P01: one of the transactions waiting on each other is rolled back) or a serialization failure
 * (40001). The transaction was rolled back whole; running it again is what PostgreSQL's manual
 * prescribes.
 */
export function isTransientConflict(error: unknown): boolean {
  const code = sqlStateOf(error);
  return code === '40P01' || code === '40001';
}

/**
 * SQLSTATEs of a database not taking work: connection exceptions (class 08, but 08P01, which
 * PostgreSQL also raises for a client's protocol bug such as too many bind parameters: retrying that
 * would never end), the server shutting down or starting up (57P01-57P03: a restart, a fail-over),
 * no connection slot left (53300), and a session ended for idling in a transaction (25P03,
 * DB_STATEMENT_TIMEOUT_SECONDS) or, outside one, by the server's idle_session_timeout (57P05,
 * PostgreSQL 14+: a pooled connection ended as it was handed out; answered 500 before, found by review),
 * and a full disk (53100: the server cannot extend a file or write its WAL; no write succeeds until an
 * operator frees space, as for the uploads' disk, STORAGE_UNAVAILABLE; answered 500 before, found by
 * review). Not 53200 (out of memory) nor 53400 (a configuration limit such as temp_file_limit): one
 * statement too large for the server raises them again at every retry, a failure to see, not to wait out.
 */
const UNAVAILABLE_SQLSTATE = /^(0800[0-9]|57P0[1235]|53[13]00|25P03)$/;
/**
 * PostgreSQL's refusal of a new session to a database closed to connections (`ALTER DATABASE … ALLOW_CONNECTIONS
 * false`, as for maintenance or before a restore): 55000 at severity FATAL, while connecting. The same SQLSTATE
 * from a statement (object not in prerequisite state, an ERROR) is a failed statement, not an outage.
 * Answered 500 before, while GET /health said "Database unreachable" for the same refusal (found by review).
 */
const CLOSED_TO_CONNECTIONS = '55000';
/**
 * A statement PostgreSQL cancelled: past statement_timeout, or an operator's pg_cancel_backend. Told
 * apart by SQLSTATE alone, not by the message, which is in the server's `lc_messages` language (a
 * timeout on a server speaking German answered 500; found by review). The app's own cancels (a pull
 * whose client hung up) never get here: withAbortableRunner answers them RequestAbandonedError.
 */
const QUERY_CANCELED = '57014';
/**
 * A lock not granted within the lock_timeout an operator set for the database or role (the app sets
 * none, and takes no lock NOWAIT, so nothing else of it raises 55P03): a push queued behind its
 * family's lock, too slow right now, as past statement_timeout (57014). Answered 500 before (found by review).
 */
const LOCK_NOT_AVAILABLE = '55P03';
/**
 * A write refused because the session is read-only (read_only_sql_transaction): the server is a hot
 * standby (DATABASE_URL still names a primary demoted by a fail-over, or a replica), or the database
 * was set `default_transaction_read_only` (as managed services do to a server whose disk is nearly
 * full). Not taking writes, for now: the writes answered 500 before (found by review). The app's own
 * read-only transactions cannot raise it on a working database unless the app writes in one, a bug
 * that must not pass for an outage: the pull's snapshot (its only one, REPEATABLE READ READ ONLY)
 * reports a 25006 of its own statements as a bug (SyncPullService.pullOnce, `writeInReadOnlySnapshot`);
 * a read-only database refuses nothing in it, it holds only reads.
 */
export const READ_ONLY_SQL_TRANSACTION = '25006';
/**
 * What a hot standby answers a statement on an UNLOGGED table (`auth_rate_limits`): "cannot access
 * temporary or unlogged relations during recovery", feature_not_supported, not 25006.
 */
export const FEATURE_NOT_SUPPORTED = '0A000';

/**
 * A hot standby's refusal that comes with another SQLSTATE than 25006 (FEATURE_NOT_SUPPORTED on an
 * UNLOGGED table), thrown where that SQLSTATE has no other cause: the rate limits' statements, fixed
 * and run on every sign-in, which on a working database never raise it. Without it every
 * rate-limited route (login, register, join-family…) answered a standby 500 (found by review).
 */
export class StandbyRefusalError extends Error {
  constructor(readonly driverError: unknown) {
    super((driverError as { message?: string } | undefined)?.message ?? 'refused by a hot standby');
    this.name = 'StandbyRefusalError';
  }
}

/** `error` as a StandbyRefusalError when it is FEATURE_NOT_SUPPORTED, else as it is (see StandbyRefusalError for where to use it). */
export function asStandbyRefusal(error: unknown): unknown {
  return sqlStateOf(error) === FEATURE_NOT_SUPPORTED ? new StandbyRefusalError((error as { driverError: unknown }).driverError) : error;
}

/**
 * node-postgres's own words for a connection that closed under a query, or a pool that had none to give in
 * time, or a statement sent on a connection already lost: ended by the server (a restart, a fail-over,
 * pg_terminate_backend, idle_session_timeout) while it was borrowed between two statements, as a pull
 * holds its snapshot's between its round trips (answered 500 before, found by review).
 */
const UNAVAILABLE_MESSAGE = /^Connection terminated|^timeout exceeded when trying to connect|^Client has encountered a connection error and is not queryable/;

/**
 * The database cannot be reached or is not taking work right now — an outage, a restart, a
 * fail-over — as opposed to a statement that failed: the request may be retried later unchanged.
 * Either the driver's error under a failed query (QueryFailedError), or what acquiring a
 * connection threw (a socket error of `connect` or of the address look-up, the pool's timeout).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof StandbyRefusalError) return true;
  const cause: unknown = error instanceof QueryFailedError ? error.driverError : error;
  // Not `instanceof Error`: a socket's errors come from Node's own realm (another one under jest).
  if (typeof cause !== 'object' || cause === null) return false;
  const { code: rawCode, message, syscall } = cause as { code?: unknown; message?: unknown; syscall?: unknown };
  const code = typeof rawCode === 'string' ? rawCode : '';
  if (UNAVAILABLE_SQLSTATE.test(code) || (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message))) return true;
  if (code === CLOSED_TO_CONNECTIONS && (cause as { severity?: unknown }).severity === 'FATAL') return true;
  if (code === READ_ONLY_SQL_TRANSACTION) return true;
  // Too slow right now (a lock held by a stalled writer, an overloaded server), or stopped by an
  // operator: worth a retry later.
  if (code === QUERY_CANCELED || code === LOCK_NOT_AVAILABLE) return true;
  // A socket error counts only when it comes from the database's connection: under a query, or while connecting to it.
  // The S3 client's own connection errors look the same (refused, unknown host) and carry its `$metadata`: object
  // storage down is not the database (found in review: a download or upload answered 503 DATABASE_UNAVAILABLE).
  if (error instanceof QueryFailedError) return UNREACHABLE_ERRNO.has(code);
  return UNREACHABLE_ERRNO.has(code) && (syscall === 'connect' || syscall === 'getaddrinfo') && !('$metadata' in cause);
}
