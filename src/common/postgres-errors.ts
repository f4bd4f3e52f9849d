import { QueryFailedError } from 'typeorm';

/** PostgreSQL's SQLSTATE for a duplicate key in a unique index or constraint. */
export const UNIQUE_VIOLATION = '23505';

/** The statement failed on a unique index (a duplicate email, a colliding invite code). */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof QueryFailedError && (error.driverError as { code?: string } | undefined)?.code === UNIQUE_VIOLATION;
}
