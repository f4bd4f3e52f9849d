import { applyDecorators, Controller, Get, Head, HttpCode, Post, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiParam,
  ApiPayloadTooLargeResponse,
  ApiProduces,
  ApiResponse,
  ApiTags,
  ApiUnsupportedMediaTypeResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiMembershipChangedError, ApiStorageUnavailableError } from '../../common/errors/api-error-responses.js';
import { ErrorResponse } from '../../common/errors/error-response.js';
import { FamilyScoped } from '../../common/family-scope/decorators.js';
import { UuidParam } from '../../common/http/uuid.js';
import { DOCUMENT_CATEGORIES, MAX_DOCUMENT_NAME_LENGTH, MAX_DOCUMENT_NOTES_LENGTH } from './dto/upload-document-fields.dto.js';
import { UploadLimitsResponse } from './dto/upload-limits.response.js';
import { UploadResponse } from './dto/upload.response.js';
import { FilesService } from './files.service.js';
import { FILE_URL_PREFIX } from './file-url.js';
import { describeCreatedFile, downloadConditions, sendDownload } from './send-download.js';
import { UploadService } from './upload.service.js';

/**
 * An error answer of the download route: JSON like every error, whereas its successes are the
 * file's own type (ApiProduces would otherwise document the error bodies as PDF or images).
 */
function ApiJsonError(status: number, description: string, headers?: Record<string, { required: boolean; description: string; schema: object }>): MethodDecorator {
  return ApiResponse({ status, description, headers, content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorResponse) } } } });
}

/**
 * The headers every answer about the file itself carries (200, 206, 304; GET and HEAD): what a client
 * keeps to resume (If-Match, If-Range) or revalidate (If-None-Match, If-Modified-Since) later.
 */
const FILE_HEADERS = {
  ETag: { required: true, description: 'The file\'s ETag: its sha256, quoted (strong)', schema: { type: 'string', pattern: '^"[0-9a-f]{64}"$' } },
  'Last-Modified': { required: true, description: 'When the file was uploaded (an HTTP-date)', schema: { type: 'string' } },
  'Accept-Ranges': { required: true, description: 'Single byte ranges are served', schema: { type: 'string', enum: ['bytes'] } },
  'Cache-Control': { required: true, description: 'The phone may keep a copy but must revalidate it before showing it again', schema: { type: 'string', enum: ['private, no-cache'] } },
  'Content-Disposition': {
    required: true,
    description: 'inline, with the sanitized original name: UTF-8 in filename* (RFC 5987) and an ASCII fallback in filename',
    schema: { type: 'string' },
  },
};

/** What GET and HEAD of a file share: its id, the conditional headers and the answers they give. */
function ApiDownloadConditions(): MethodDecorator {
  return applyDecorators(
    ApiParam({ name: 'id', format: 'uuid', description: 'The file id: the last segment of a document\'s file_url' }),
    ApiHeader({ name: 'If-Match', required: false, description: 'The ETag of a partial copy being resumed (strong comparison, or *): any other answers 412' }),
    ApiHeader({ name: 'If-Unmodified-Since', required: false, description: 'Answers 412 when the file is newer than this date (ignored with If-Match)' }),
    ApiHeader({ name: 'If-None-Match', required: false, description: 'The ETag (quoted sha256) of a cached copy' }),
    ApiHeader({ name: 'If-Modified-Since', required: false, description: 'The Last-Modified of a cached copy (ignored with If-None-Match)' }),
    ApiResponse({ status: 304, headers: FILE_HEADERS, description: 'If-None-Match matched, or (without it) If-Modified-Since is not before Last-Modified: the cached copy is current' }),
    ApiJsonError(400, '`id` is not a UUID (named in details.fields)'),
    ApiJsonError(403, 'The caller is not a member of any family'),
    ApiJsonError(404, 'No such file in the caller\'s family'),
    ApiJsonError(412, 'If-Match names another ETag (or a weak one), or If-Unmodified-Since is before Last-Modified (PRECONDITION_FAILED)'),
  );
}

@ApiTags('documents')
@ApiExtraModels(ErrorResponse)
@FamilyScoped()
@Controller('api/v1')
export class DocumentsController {
  constructor(
    private readonly uploads: UploadService,
    private readonly files: FilesService,
  ) {}

  /**
   * Streams one file into the family's storage. The type is detected from the
   * file's bytes (not its name or Content-Type). With document fields, also
   * creates (or updates, when `document_id` names an existing document) the
   * `documents` record in the same transaction; devices get it by pull.
   */
  @Post('upload')
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file'],
      properties: {
        file: { type: 'string', format: 'binary', description: 'PDF, JPEG, PNG, HEIC/HEIF or WebP (configurable), up to UPLOAD_MAX_BYTES' },
        document_id: { type: 'string', format: 'uuid', description: 'Document to create with this id, or to update' },
        name: { type: 'string', maxLength: MAX_DOCUMENT_NAME_LENGTH, description: 'Required when a document is created' },
        category: { type: 'string', enum: [...DOCUMENT_CATEGORIES], description: 'Required when a document is created' },
        notes: { type: 'string', maxLength: MAX_DOCUMENT_NOTES_LENGTH },
        family_id: {
          type: 'string',
          format: 'uuid',
          description: "The family whose data the phone holds (its records' family_id): refused with 409 MEMBERSHIP_CHANGED, nothing stored, when the user is now in another family",
        },
      },
    },
  })
  @ApiCreatedResponse({
    type: UploadResponse,
    headers: {
      Location: { required: true, description: 'The file\'s URL: its `file_url`', schema: { type: 'string', pattern: `^${FILE_URL_PREFIX}[0-9a-f-]{36}$` } },
      ETag: { required: true, description: 'The file\'s ETag, as its download sends it: the quoted `sha256`', schema: { type: 'string', pattern: '^"[0-9a-f]{64}"$' } },
    },
  })
  @ApiBadRequestResponse({
    type: ErrorResponse,
    description:
      'Not multipart, no "file" part or more than one file, unknown, repeated or too long fields (INVALID_UPLOAD, the field in details.fields when there is one), ' +
      'or invalid or missing document fields (VALIDATION_FAILED, named in details.fields)',
  })
  @ApiNotFoundResponse({ type: ErrorResponse, description: '`document_id` is a document of another family (or deleted) (NOT_FOUND)' })
  @ApiMembershipChangedError()
  @ApiPayloadTooLargeResponse({
    type: ErrorResponse,
    description:
      'File larger than UPLOAD_MAX_BYTES (PAYLOAD_TOO_LARGE, details.max_bytes), or more than the family\'s storage limit can take ' +
      '(STORAGE_QUOTA_EXCEEDED: UPLOAD_FAMILY_MAX_BYTES in details.max_bytes, details.stored_bytes already stored), ' +
      'or a new document would give the family more records than SYNC_FAMILY_MAX_RECORDS (RECORD_QUOTA_EXCEEDED: details.max_records, ' +
      'details.stored_records, details.new_records); nothing is stored',
  })
  @ApiUnsupportedMediaTypeResponse({
    type: ErrorResponse,
    description:
      'File type not allowed (UNSUPPORTED_MEDIA_TYPE, details.detected and details.allowed), an empty file, ' +
      'or a compressed body (any Content-Encoding; the answer carries Accept-Encoding: identity); nothing is stored',
  })
  @ApiStorageUnavailableError('upload')
  async upload(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<UploadResponse> {
    return describeCreatedFile(res, await this.uploads.upload(req));
  }

  /**
   * What an upload may be, for the caller's family now: the largest file, the types taken, and the
   * family's storage limit with what is left of it. An app checks a file against them before
   * sending it (a file over a limit is refused before its body is read, and the connection is then
   * closed, which some HTTP clients report as a network error rather than the 413).
   */
  @Get('upload/limits')
  @ApiOkResponse({ type: UploadLimitsResponse })
  limits(): Promise<UploadLimitsResponse> {
    return this.uploads.limits();
  }

  /**
   * The headers a download of the whole file would have (type, length, ETag, Last-Modified,
   * Content-Disposition), without its body; the storage is not read. A Range is ignored (RFC 9110 §14.2).
   * Declared before the GET route, which Express would otherwise let answer HEAD unlisted.
   */
  @Head('files/:id')
  @HttpCode(200)
  @ApiDownloadConditions()
  @ApiOkResponse({ headers: FILE_HEADERS, description: 'The whole file\'s headers (Content-Type, Content-Length, ETag, Last-Modified, Content-Disposition); no body' })
  async head(@UuidParam('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await sendDownload(res, await this.files.prepareDownload(id, downloadConditions(req)));
  }

  /** Streams a file of the caller's family. Supports single byte ranges and conditional requests (RFC 9110 §13). */
  @Get('files/:id')
  @HttpCode(200)
  @ApiDownloadConditions()
  @ApiProduces('application/pdf', 'image/jpeg', 'image/png', 'image/heic', 'image/heif', 'image/webp')
  @ApiHeader({ name: 'Range', required: false, description: 'A single byte range, e.g. bytes=0-1048575' })
  @ApiHeader({ name: 'If-Range', required: false, description: 'The ETag of the partial copy: the range is served only while the file is still that one; any other value gets the whole file' })
  @ApiOkResponse({ description: 'The whole file', headers: FILE_HEADERS, schema: { type: 'string', format: 'binary' } })
  @ApiResponse({
    status: 206,
    description: 'The requested range (Content-Range)',
    headers: {
      ...FILE_HEADERS,
      'Content-Range': { required: true, description: 'The range served and the file\'s size: bytes <first>-<last>/<size>', schema: { type: 'string', pattern: '^bytes \\d+-\\d+/\\d+$' } },
    },
    schema: { type: 'string', format: 'binary' },
  })
  @ApiJsonError(416, 'Range starts beyond the end of the file (RANGE_NOT_SATISFIABLE)', {
    'Content-Range': { required: true, description: 'The file\'s size: bytes */<size>', schema: { type: 'string', pattern: '^bytes \\*/\\d+$' } },
  })
  @ApiStorageUnavailableError('download')
  async download(@UuidParam('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await sendDownload(res, await this.files.prepareDownload(id, downloadConditions(req)));
  }
}
