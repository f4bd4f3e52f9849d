import { DomainError, ErrorCode } from './domain-error.js';

/**
 * The one 401 UNAUTHENTICATED answer, whatever found it: no token or one that does not verify (passport,
 * whose UnauthorizedException says these same words), a user or sign-in the guard no longer finds, or a
 * sign-in that ended while the request ran. One condition for the client (sign in again), one message.
 */
export const UNAUTHENTICATED_MESSAGE = 'Unauthorized';

export const unauthenticated = (): DomainError => new DomainError(ErrorCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);
