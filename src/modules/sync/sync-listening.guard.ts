import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { ScopedRequest } from '../../common/family-scope/family-scope.request.js';
import { SyncEventsService } from './sync-events.service.js';

/**
 * GET /sync/events waits for this instance's listening connection before its stream begins: Nest
 * sends a stream's headers as soon as it is subscribed, so a listener that could not be had (the
 * database down, a hot standby refusing LISTEN, DATABASE_LISTEN_URL unreachable) was answered 200,
 * then `event: error` "Internal server error", and logged as an error with its stack at every try
 * (found by review). Failing here, before the stream, it is answered as any request the database
 * fails: 503 DATABASE_UNAVAILABLE with Retry-After, a warning. The same for the stream's first
 * statement (the family's version and the membership), which a database that cannot answer it in
 * time (a lock held past DB_STATEMENT_TIMEOUT_SECONDS, no pooled connection free) failed after the
 * headers, the same way (found in review): it is run here first. After the family guards: an
 * unauthenticated request opens no connection.
 */
@Injectable()
export class SyncListeningGuard implements CanActivate {
  constructor(private readonly events: SyncEventsService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<ScopedRequest>();
    await this.events.ready(request.familyScope!, request.user!.signInId);
    return true;
  }
}
