import { Body, Controller, Post } from '@nestjs/common';
import { ApiBody, ApiConflictResponse, ApiTags } from '@nestjs/swagger';
import { ApiJsonBodyErrors } from '../../common/errors/api-error-responses.js';
import { ErrorResponse } from '../../common/errors/error-response.js';
import { Authenticated, CurrentUser } from '../../common/family-scope/decorators.js';
import type { AuthenticatedUser } from '../../common/family-scope/family-scope.request.js';
import { FamilyResponse } from './dto/family.response.js';
import { UpdateFamilyDto } from './dto/update-family.dto.js';
import { FamilyMembershipService } from './family-membership.service.js';

/**
 * Founding a family: the caller is in none yet, so this route has the JWT guard only, not the family
 * guard (FamiliesController's routes all need a family).
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
