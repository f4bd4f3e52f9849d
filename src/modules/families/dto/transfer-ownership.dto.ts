import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';
import { ANY_CASE_UUID_PATTERN } from '../../../common/http/uuid.js';
import { PASSWORD_MAX_LENGTH } from '../../auth/dto/auth.dto.js';

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

  /**
   * The caller's password, as typed (checked like a login's): handing the family on cannot be undone
   * by the caller, so it takes the password, not only a signed-in phone. @example correct-horse-battery
   */
  @IsString() @IsNotEmpty() @MaxLength(PASSWORD_MAX_LENGTH)
  password: string;
}
