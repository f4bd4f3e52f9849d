import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { concatMap, type Observable } from 'rxjs';
import { AuthRateLimitRepository, type CountedBucket } from './rate-limit.repository.js';

/** What a request's attempt was counted in and gets back if it succeeds. */
const heldAttempts = new WeakMap<object, CountedBucket[]>();

/** AuthRateLimitGuard, once it counted the attempt: the buckets that count failures only (invite codes, account). */
export function holdAttempt(request: object, buckets: CountedBucket[]): void {
  heldAttempts.set(request, buckets);
}

/**
 * Around a rate-limited handler: a success gives the attempt back to the buckets that count failures
 * only, before the answer is sent, so the caller's next attempt finds it given back. A failure or an
 * error keeps it.
 */
@Injectable()
export class AuthRateLimitInterceptor implements NestInterceptor {
  private readonly logger = new Logger(AuthRateLimitInterceptor.name);

  constructor(private readonly limits: AuthRateLimitRepository) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const held = heldAttempts.get(context.switchToHttp().getRequest());
    if (!held?.length) return next.handle();
    return next.handle().pipe(
      concatMap(async (answer) => {
        await this.limits.giveBack(held).catch((error: Error) => this.logger.warn(`attempt not given back (it stays counted): ${error.message}`));
        return answer;
      }),
    );
  }
}
