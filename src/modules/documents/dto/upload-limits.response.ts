import { ApiProperty } from '@nestjs/swagger';

/** What an upload may be, for this family now: checked by the app before it sends a file. */
export class UploadLimitsResponse {
  /** The largest file an upload takes (UPLOAD_MAX_BYTES); a larger one answers 413 PAYLOAD_TOO_LARGE. @example 20971520 */
  @ApiProperty({ type: 'integer', format: 'int64' })
  max_file_bytes: number;
  /** The types an upload takes, as detected from the file's bytes (UPLOAD_ALLOWED_TYPES). */
  @ApiProperty({ type: [String], example: ['application/pdf', 'image/jpeg', 'image/png', 'image/heic', 'image/heif', 'image/webp'] })
  allowed_types: string[];
  /** The family's storage limit (UPLOAD_FAMILY_MAX_BYTES). @example 10737418240 */
  @ApiProperty({ type: 'integer', format: 'int64' })
  family_max_bytes: number;
  /** What the family's files take now (a deleted document's file counts until the server's cleanup removes it). @example 4404019 */
  @ApiProperty({ type: 'integer', format: 'int64' })
  family_stored_bytes: number;
  /** What is left of the limit (never negative): a larger file answers 413 STORAGE_QUOTA_EXCEEDED. @example 10733014221 */
  @ApiProperty({ type: 'integer', format: 'int64' })
  family_available_bytes: number;
}
