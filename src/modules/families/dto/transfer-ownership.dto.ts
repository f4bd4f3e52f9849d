import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString, Matches } from 'class-validator';
import { ANY_CASE_UUID_PATTERN } from '../../../common/http/uuid.js';

/** POST /families/me/owner. */
export class TransferOwnershipDto {
  /**
   * The member who becomes the owner (their id in GET /families/me); the caller becomes a member.
   * Any case, compared lower-cased, like a user id in a path.
   */
  @ApiProperty({ format: 'uuid' })
  @Transform(({ value }) => (typeof value === 'string' ? value.toLowerCase() : value))
  @IsString()
  @Matches(ANY_CASE_UUID_PATTERN, { message: 'user_id must be a UUID' })
  user_id: string;
}
