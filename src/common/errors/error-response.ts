import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** The one JSON shape of every error response. */
export class ErrorResponse {
  @ApiProperty({ example: 422 })
  statusCode: number;

  @ApiProperty({ example: 'Unprocessable Entity' })
  error: string;

  @ApiProperty({ example: 'email must be an email' })
  message: string;

  @ApiPropertyOptional({ description: 'Machine-readable code and, for validation errors, the fields at fault' })
  details?: unknown;
}
