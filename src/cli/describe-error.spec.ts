import { QueryFailedError } from 'typeorm';
import { describeError } from './describe-error.js';

describe('describeError', () => {
  // Found by review: a database host that accepts the connection and never answers (or a firewall that
  // drops it) printed `error: Connection terminated due to connection timeout`, naming no database.
  it.each([
    ['Connection terminated due to connection timeout', 'no answer within the connection timeout'],
    ['timeout exceeded when trying to connect', 'no answer within the connection timeout'],
    ['Connection terminated unexpectedly', 'the connection was closed'],
  ])('node-postgres\'s "%s" reads as the database being unreachable', (message, problem) => {
    const expected = `cannot reach the database (${problem}); check DATABASE_URL or that PostgreSQL is running`;
    expect(describeError(new Error(message))).toBe(expected);
    expect(describeError(new QueryFailedError('SELECT 1', [], new Error(message)))).toBe(expected);
  });

  it('a refused connection names its address, as before', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 1 });
    expect(describeError(refused)).toBe('cannot reach the database (connection refused at 127.0.0.1:1); check DATABASE_URL or that PostgreSQL is running');
  });

  it('a write refused by a read-only database (25006) says so and what to check', () => {
    const refused = new QueryFailedError('INSERT', [], Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006' }));
    expect(describeError(refused)).toBe(
      'the database is read-only (cannot execute INSERT in a read-only transaction): a hot standby, or default_transaction_read_only is on; check that DATABASE_URL names the primary, then run the command again',
    );
  });

  it('a statement that fails is a database error, not an unreachable database', () => {
    expect(describeError(new QueryFailedError('INSERT', [], new Error('refused by a trigger')))).toBe('database error: refused by a trigger');
  });
});
