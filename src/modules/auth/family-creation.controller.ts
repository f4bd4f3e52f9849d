import { Body, Controller, Post } from '@nestjs/common';
import { ApiBody, ApiConflictResponse, ApiTags } from '@nestjs/swagger';
import { ApiJsonBodyErrors } from '../../common/errors/api-error-responses.js';
import { ErrorResponse } from '../../common/errors/error-response.js';
import { Authenticated, CurrentUser } from '../../common/family-scope/decorators.js';
import type { AuthenticatedUser } from '../../common/family-scope/family-scope.request.js';
import { FamilyResponse } from '../families/dto/family.response.js';
import { UpdateFamilyDto } from '../families/dto/update-family.dto.js';
import { FamilyMembershipService } from '../families/family-membership.service.js';
import { AuthRateLimited } from './rate-limit.guard.js';

/**
 * Founding a family: the caller is in none yet, so this route has the JWT guard only, not the family
 * guard (FamiliesController's routes all need a family). It lives in the auth module beside
 * join-family, its sibling, for the same rate limit (AuthRateLimitGuard is an auth provider; auth
 * depends on families, never the other way).
 */
@ApiTags('families')
@Controller('api/v1/families')
export class FamilyCreationController {
  constructor(private readonly memberships: FamilyMembershipService) {}

  /**
   * For a user in no family (removed by its owner, or who left): creates a new family with the caller as owner,
   * with the patient fields given (the rules of PATCH /families/me; all optional). Their phones'
   * next pull is a replacement snapshot of the new family.
   */
  @Post()
  // Every attempt counts, per network and per user (the JWT guard, applied below, runs first): each
  // family founded is a row kept for good and a storage quota of its own.
  @AuthRateLimited({ everyAttempt: true })
  @Authenticated()
  // No body, or {}, is a family with no patient fields set.
  @ApiBody({ type: UpdateFamilyDto, required: false })
  @ApiJsonBodyErrors()
  @ApiConflictResponse({
    type: ErrorResponse,
    description:
      'The caller is already a member of a family (ALREADY_IN_FAMILY), or their membership changed while the request was in flight ' +
      '(MEMBERSHIP_CHANGED, details.membership_changed: they joined a family meanwhile); nothing was created',
  })
  create(@CurrentUser() user: AuthenticatedUser, @Body() dto: UpdateFamilyDto): Promise<FamilyResponse> {
    return this.memberships.createForMember(user, dto);
  }
}
