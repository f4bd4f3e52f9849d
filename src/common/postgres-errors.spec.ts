import { QueryFailedError } from 'typeorm';
import { asStandbyRefusal, isDatabaseUnavailable, isTransientConflict, isUniqueViolation, StandbyRefusalError, UNIQUE_VIOLATION } from './postgres-errors.js';

describe('isUniqueViolation', () => {
  const failed = (code?: string) => new QueryFailedError('INSERT …', [], Object.assign(new Error('failed'), code ? { code } : {}));

  it('is a failed statement with SQLSTATE 23505 only', () => {
    expect(isUniqueViolation(failed(UNIQUE_VIOLATION))).toBe(true);
    expect(isUniqueViolation(failed('23503'))).toBe(false); // a foreign key
    expect(isUniqueViolation(failed())).toBe(false);
    expect(isUniqueViolation(Object.assign(new Error('not a query'), { code: UNIQUE_VIOLATION }))).toBe(false);
    expect(isUniqueViolation(undefined)).toBe(false);
  });
});

describe('isTransientConflict', () => {
  const failed = (code?: string) => new QueryFailedError('UPDATE …', [], Object.assign(new Error('failed'), code ? { code } : {}));

  it('is a failed statement ended as a deadlock victim (40P01) or a serialization failure (40001), nothing else', () => {
    expect(isTransientConflict(failed('40P01'))).toBe(true);
    expect(isTransientConflict(failed('40001'))).toBe(true);
    for (const code of [UNIQUE_VIOLATION, '57014', '55P03', undefined]) expect(isTransientConflict(failed(code))).toBe(false);
    expect(isTransientConflict(Object.assign(new Error('not a query'), { code: '40P01' }))).toBe(false);
  });
});

describe('isDatabaseUnavailable', () => {
  const failed = (cause: Error) => new QueryFailedError('SELECT …', [], cause);
  const withCode = (code: string, extra: object = {}) => Object.assign(new Error(code), { code, ...extra });

  it('an outage, a restart, a fail-over or no connection slot: under a query or while connecting', () => {
    expect(isDatabaseUnavailable(withCode('ECONNREFUSED', { syscall: 'connect' }))).toBe(true);
    expect(isDatabaseUnavailable(withCode('ENOTFOUND', { syscall: 'getaddrinfo' }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isDatabaseUnavailable(failed(new Error('Connection terminated unexpectedly')))).toBe(true);
    expect(isDatabaseUnavailable(failed(withCode('ECONNRESET')))).toBe(true);
    for (const sqlstate of ['57P01', '57P02', '57P03', '57P05', '53100', '53300', '08006', '08001']) expect(isDatabaseUnavailable(failed(withCode(sqlstate)))).toBe(true);
    // A statement sent on a connection the server had ended meanwhile (node-postgres's words).
    expect(isDatabaseUnavailable(failed(new Error('Client has encountered a connection error and is not queryable')))).toBe(true);
  });

  it('a database closed to new sessions (ALLOW_CONNECTIONS false): 55000 refusing the connection, not 55000 from a statement', () => {
    // What pg's pool rejects with while connecting, as the app met it (logged as a DatabaseError, answered 500).
    const refused = withCode('55000', { severity: 'FATAL', message: 'database "hemoday" is not currently accepting connections' });
    expect(isDatabaseUnavailable(refused)).toBe(true);
    const statement = withCode('55000', { severity: 'ERROR', message: 'currval of sequence "s" is not yet defined in this session' });
    expect(isDatabaseUnavailable(failed(statement))).toBe(false);
  });

  it('a statement past DB_STATEMENT_TIMEOUT_SECONDS or cancelled by an operator (whatever the server\'s language), or a session ended for idling in its transaction', () => {
    const timedOut = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
    expect(isDatabaseUnavailable(failed(timedOut))).toBe(true);
    // lc_messages = 'de_DE': the SQLSTATE decides, not the words (a timeout there answered 500).
    const timedOutInGerman = Object.assign(new Error('storniere Anfrage wegen Zeitüberschreitung der Anweisung'), { code: '57014' });
    expect(isDatabaseUnavailable(failed(timedOutInGerman))).toBe(true);
    const byOperator = Object.assign(new Error('canceling statement due to user request'), { code: '57014' });
    expect(isDatabaseUnavailable(failed(byOperator))).toBe(true);
    expect(isDatabaseUnavailable(failed(withCode('25P03')))).toBe(true);
    // A lock not granted within a lock_timeout set for the database or role (the app sets none, and never waits NOWAIT).
    expect(isDatabaseUnavailable(failed(withCode('55P03')))).toBe(true);
  });

  it('a write refused by a read-only database (25006: a hot standby, default_transaction_read_only), and a standby\'s refusal of an UNLOGGED table where the rate limits name it so', () => {
    expect(isDatabaseUnavailable(failed(withCode('25006', { message: 'cannot execute INSERT in a read-only transaction' })))).toBe(true);
    const unlogged = failed(withCode('0A000', { message: 'cannot access temporary or unlogged relations during recovery' }));
    expect(isDatabaseUnavailable(unlogged)).toBe(false); // 0A000 alone is a feature not supported: a bug
    expect(isDatabaseUnavailable(asStandbyRefusal(unlogged))).toBe(true);
    expect(asStandbyRefusal(failed(withCode('23505')))).not.toBeInstanceOf(StandbyRefusalError);
  });

  it('not a statement that failed, nor a socket error that is not the database\'s', () => {
    // 08P01 too: PostgreSQL's answer to a protocol bug (too many bind parameters), which no retry mends.
    // 53200 (out of memory) and 53400 (temp_file_limit…) too: one statement too large raises them at every retry.
    // 57P04 (database_dropped) too: the database is gone, no wait brings it back (found by mutation testing:
    // a pattern taking the whole of 57P01-57P05 passed every test).
    for (const sqlstate of ['23505', '40001', '42P01', '08P01', '53200', '53400', '57P04']) expect(isDatabaseUnavailable(failed(withCode(sqlstate)))).toBe(false);
    expect(isDatabaseUnavailable(withCode('ECONNRESET'))).toBe(false); // a client's socket, say
    // The S3 client's own connection errors carry its $metadata: object storage down is not the database
    // (found by mutation testing: a check without `$metadata` passed every test).
    for (const [code, syscall] of [['ECONNREFUSED', 'connect'], ['ENOTFOUND', 'getaddrinfo']]) {
      expect(isDatabaseUnavailable(withCode(code, { syscall, $metadata: { attempts: 3 } }))).toBe(false);
    }
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
  });
});
