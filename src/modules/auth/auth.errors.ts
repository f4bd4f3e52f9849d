import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { unauthenticated } from '../../common/errors/unauthenticated.js';

/** The auth module's expected failures, one place for their codes and wording (mapped to HTTP by the global filter). */
export const AuthErrors = {
  /** Wrong password and unknown email alike: the answer must not tell them apart. */
  invalidCredentials: () => new DomainError(ErrorCode.INVALID_CREDENTIALS, 'Invalid email or password'),
  /** change-password, account deletion, the owner hand-over: the signed-in caller's current password is wrong (the same code as a failed login; the caller stays signed in). */
  wrongCurrentPassword: () => new DomainError(ErrorCode.INVALID_CREDENTIALS, 'The current password is wrong'),
  /** change-password: a new password equal to the current one would sign every device out for nothing. */
  passwordUnchanged: () => {
    const message = 'new_password must differ from current_password';
    return new DomainError(ErrorCode.VALIDATION_FAILED, message, { fields: [{ field: 'new_password', errors: [message] }] });
  },
  emailTaken: () => new DomainError(ErrorCode.EMAIL_TAKEN, 'An account with this email already exists'),
  alreadyInFamily: () => new DomainError(ErrorCode.ALREADY_IN_FAMILY, 'You are already a member of this family'),
  unauthenticated,
  /** Admin CLI look-up; the email is the admin's own input. */
  noSuchUser: (email: string) => new DomainError(ErrorCode.NOT_FOUND, `No user with email ${email}`),
  invalidRefreshToken: () => new DomainError(ErrorCode.INVALID_REFRESH_TOKEN, 'Invalid or expired refresh token'),
  /** reset-password: unknown, expired, used or revoked (a newer link, a password change) — one answer for all. */
  invalidResetToken: () =>
    new DomainError(ErrorCode.INVALID_RESET_TOKEN, 'This password reset link is invalid, expired or already used; ask for a new one'),
  /** forgot-password in production without SMTP_URL: no email can be sent. */
  passwordResetUnavailable: () =>
    new DomainError(ErrorCode.PASSWORD_RESET_UNAVAILABLE, 'Password reset by email is not available on this server; contact support'),
  refreshTokenReuse: () => new DomainError(ErrorCode.INVALID_REFRESH_TOKEN, 'Refresh token reuse detected; please sign in again'),
  rateLimited: (retryAfterSeconds: number) =>
    new DomainError(ErrorCode.RATE_LIMITED, `Too many attempts; try again in ${retryAfterSeconds} s`, { retryAfterSeconds }),
};
