import { QueryFailedError } from 'typeorm';
import { isUniqueViolation, UNIQUE_VIOLATION } from './postgres-errors.js';

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
