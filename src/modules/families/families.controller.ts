import { Body, Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiParam,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { ApiJsonBodyErrors, ApiMembershipChangedError } from '../../common/errors/api-error-responses.js';
import { ErrorResponse } from '../../common/errors/error-response.js';
import { FamilyScoped } from '../../common/family-scope/decorators.js';
import { NoBody } from '../../common/http/no-body.js';
import { UuidParam } from '../../common/http/uuid.js';
import { FamilyResponse, InviteCodeResponse } from './dto/family.response.js';
import { UpdateFamilyDto } from './dto/update-family.dto.js';
import { FamiliesService } from './families.service.js';
import { FamilyMembershipService } from './family-membership.service.js';

/** The 400 of a route that takes no body. */
const NO_BODY =
  'A body with any property (this route takes none: VALIDATION_FAILED, each named in details.fields), ' +
  'or one that is not valid JSON or not UTF-8, is cut short or does not decode (MALFORMED_REQUEST)';

@ApiTags('families')
@FamilyScoped()
@Controller('api/v1/families/me')
export class FamiliesController {
  constructor(
    private readonly families: FamiliesService,
    private readonly memberships: FamilyMembershipService,
  ) {}

  /** The caller's family: patient information, invite code and members with their roles. */
  @Get()
  @ApiMembershipChangedError()
  get(): Promise<FamilyResponse> {
    return this.families.getCurrent();
  }

  /** Updates patient fields; devices receive the change on their next pull. */
  @Patch()
  @ApiJsonBodyErrors()
  @ApiMembershipChangedError()
  update(@Body() dto: UpdateFamilyDto): Promise<FamilyResponse> {
    return this.families.update(dto);
  }

  /** Owner only: issues a new invite code; the old one stops working at once. */
  @Post('invite-code')
  @HttpCode(200)
  @ApiForbiddenResponse({ type: ErrorResponse, description: 'Caller is not the owner (OWNER_ONLY), or not a member of any family (NO_FAMILY)' })
  @ApiMembershipChangedError()
  @ApiJsonBodyErrors({ badRequest: NO_BODY })
  regenerateInviteCode(@NoBody() _body: undefined): Promise<InviteCodeResponse> {
    return this.families.regenerateInviteCode();
  }

  /** Owner only: removes a member, who loses access on their next request; the invite code is replaced (they have seen it). */
  @Delete('members/:userId')
  @HttpCode(204)
  @ApiParam({ name: 'userId', format: 'uuid', description: 'The member to remove' })
  @ApiNoContentResponse({ description: 'Removed: their access ends with their next request' })
  @ApiJsonBodyErrors({ badRequest: `userId is not a UUID (VALIDATION_FAILED, details.fields names userId). ${NO_BODY}` })
  @ApiForbiddenResponse({ type: ErrorResponse, description: 'Caller is not the owner (OWNER_ONLY), or not a member of any family (NO_FAMILY)' })
  @ApiNotFoundResponse({ type: ErrorResponse, description: 'No such member in this family (NOT_FOUND)' })
  @ApiMembershipChangedError()
  @ApiUnprocessableEntityResponse({ type: ErrorResponse, description: 'The owner cannot remove themselves (VALIDATION_FAILED, details.fields names userId)' })
  removeMember(@UuidParam('userId') userId: string, @NoBody() _body: undefined): Promise<void> {
    return this.families.removeMember(userId);
  }

  /**
   * Leaves the family: the caller is then in no family (still signed in: they may join another with
   * an invite code, or found one with POST /families). The family keeps its records and gets a new
   * invite code; the owner of a family with other members makes one of them the owner first.
   */
  @Post('leave')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Left: the caller is in no family; their phones\' next pull answers 403 NO_FAMILY' })
  @ApiConflictResponse({
    type: ErrorResponse,
    description:
      'The caller owns the family and it has other members (OWNER_HAS_MEMBERS: POST /families/me/owner first), ' +
      'or their membership changed while the request was in flight (MEMBERSHIP_CHANGED)',
  })
  @ApiJsonBodyErrors({ badRequest: NO_BODY })
  leave(@NoBody() _body: undefined): Promise<void> {
    return this.memberships.leave();
  }
}
