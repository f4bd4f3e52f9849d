import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { catchError, concatMap, type Observable } from 'rxjs';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { AuthRateLimitRepository, type CountedBucket } from './rate-limit.repository.js';

interface HeldAttempt {
  buckets: CountedBucket[];
  /** Only a wrong password is a failure (`passwordCheck` routes); otherwise every error is. */
  passwordCheck: boolean;
}

/** What a request's attempt was counted in and gets back if it succeeds. */
const heldAttempts = new WeakMap<object, HeldAttempt>();

/** AuthRateLimitGuard, once it counted the attempt: the buckets that count failures only (invite codes, account). */
export function holdAttempt(request: object, buckets: CountedBucket[], passwordCheck = false): void {
  heldAttempts.set(request, { buckets, passwordCheck });
}

/**
 * Whether an error answer keeps the attempt counted. On a route that checks the account's password,
 * only a wrong password (INVALID_CREDENTIALS) is a failed guess: a refusal for anything else — the
 * body (400), the family (409 OWNER_HAS_MEMBERS when the owner deletes their account, 404 for a
 * hand-over to a non-member), the database — says nothing about the password, or comes after the
 * right one. Counted, an owner retrying a deletion the app refused used up the account's budget
 * and then could not sign in for the window. On other routes (invite codes) every error counts.
 */
function keepsAttempt(held: HeldAttempt, error: unknown): boolean {
  return !held.passwordCheck || (error instanceof DomainError && error.code === ErrorCode.INVALID_CREDENTIALS);
}

/**
 * Around a rate-limited handler: a success gives the attempt back to the buckets that count failures
 * only, before the answer is sent, so the caller's next attempt finds it given back. A failure keeps
 * it (keepsAttempt).
 */
@Injectable()
export class AuthRateLimitInterceptor implements NestInterceptor {
  private readonly logger = new Logger(AuthRateLimitInterceptor.name);

  constructor(private readonly limits: AuthRateLimitRepository) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const held = heldAttempts.get(context.switchToHttp().getRequest());
    if (!held?.buckets.length) return next.handle();
    return next.handle().pipe(
      concatMap(async (answer) => {
        await this.giveBack(held);
        return answer;
      }),
      catchError(async (error: unknown) => {
        if (!keepsAttempt(held, error)) await this.giveBack(held);
        throw error;
      }),
    );
  }

  private async giveBack(held: HeldAttempt): Promise<void> {
    await this.limits.giveBack(held.buckets).catch((error: Error) => this.logger.warn(`attempt not given back (it stays counted): ${error.message}`));
  }
}
