import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiForbiddenResponse, ApiNotFoundResponse, ApiTags, ApiUnauthorizedResponse, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { ApiJsonBodyErrors, ApiMembershipChangedError } from '../../common/errors/api-error-responses.js';
import { ErrorResponse } from '../../common/errors/error-response.js';
import { CurrentUser, FamilyScoped } from '../../common/family-scope/decorators.js';
import type { AuthenticatedUser } from '../../common/family-scope/family-scope.request.js';
import { FamilyResponse } from '../families/dto/family.response.js';
import { TransferOwnershipDto } from '../families/dto/transfer-ownership.dto.js';
import { AuthService } from './auth.service.js';
import { AuthRateLimited } from './rate-limit.guard.js';

/**
 * Handing the family on: a route of the caller's family (FamiliesController's kind), confirmed by the
 * caller's password, so it lives in the auth module beside the other routes that check one, for their
 * shared rate limit (AuthRateLimitGuard is an auth provider; auth depends on families, never the
 * other way), as FamilyCreationController does for founding a family.
 */
@ApiTags('families')
@FamilyScoped()
@Controller('api/v1/families/me')
export class FamilyOwnershipController {
  constructor(private readonly auth: AuthService) {}

  /**
   * Owner only, confirmed by the owner's password: makes another member the owner; the caller
   * becomes a member. Answers the family as GET /families/me shows it. Rate limited per network and
   * per account (wrong passwords, counted with login's).
   */
  @Post('owner')
  @HttpCode(200)
  // The family guards (from @FamilyScoped, on the class) run first, so the account is the caller's.
  @AuthRateLimited({ passwordCheck: true })
  @ApiJsonBodyErrors()
  // Replaces @FamilyScoped's 401 in the document (a class decorator's response is overridden, not merged): both are said here.
  @ApiUnauthorizedResponse({
    type: ErrorResponse,
    description:
      'Wrong password (INVALID_CREDENTIALS): nothing changed, still signed in. Missing, invalid or expired access token, or one whose ' +
      'sign-in has ended (UNAUTHENTICATED), also while the hand-over was being confirmed (the password changed or reset meanwhile): nothing changed',
  })
  @ApiForbiddenResponse({ type: ErrorResponse, description: 'Caller is not the owner (OWNER_ONLY), or not a member of any family (NO_FAMILY)' })
  @ApiNotFoundResponse({ type: ErrorResponse, description: 'No such member in this family (NOT_FOUND)' })
  @ApiMembershipChangedError()
  @ApiUnprocessableEntityResponse({ type: ErrorResponse, description: 'user_id is the caller, the owner already (VALIDATION_FAILED, details.fields names user_id)' })
  transferOwnership(@CurrentUser() user: AuthenticatedUser, @Body() dto: TransferOwnershipDto): Promise<FamilyResponse> {
    return this.auth.transferOwnership(user.userId, dto);
  }
}
