import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '../errors/domain-error.js';
import { unauthenticated } from '../errors/unauthenticated.js';
import type { ScopedRequest } from './family-scope.request.js';

/**
 * Resolves the caller's family scope. Runs after JwtAuthGuard, which has just read the
 * user's membership from the database (one query per request, never token claims), so a member
 * removed a second ago is refused now, not when their access token expires.
 */
@Injectable()
export class FamilyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<ScopedRequest>();
    const user = request.user;
    if (!user) throw unauthenticated();
    if (!user.familyId || !user.role) {
      throw new DomainError(ErrorCode.NO_FAMILY, 'You are not a member of a family; join one with an invite code, or create one (POST /api/v1/families)');
    }
    request.familyScope = { userId: user.userId, familyId: user.familyId, role: user.role, joinedVersion: user.joinedVersion, signInId: user.signInId };
    return true;
  }
}
