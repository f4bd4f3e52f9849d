import { Body, Controller, Get, HttpCode, type MessageEvent, Post, Query, Req, Res, Sse, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Observable } from 'rxjs';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiExtraModels,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { ApiJsonBodyErrors, ApiRateLimitedError, ApiServerBusyError } from '../../common/errors/api-error-responses.js';
import { ErrorResponse } from '../../common/errors/error-response.js';
import { sendJsonText } from '../../common/http/compressed-json.js';
import { hangUpSignal } from '../../common/http/hang-up-signal.js';
import { CurrentFamily, CurrentUser, FamilyScoped } from '../../common/family-scope/decorators.js';
import type { FamilyScope } from '../../common/family-scope/family-context.js';
import type { AuthenticatedUser } from '../../common/family-scope/family-scope.request.js';
import { ApiDeviceIdHeader, DeviceId } from './device-id.decorator.js';
import { SyncPullQueryDto, SyncPushBodyDto, SyncPushQueryDto, SyncPushTableChangesDto, SyncTableChangesDto } from './dto/sync.dto.js';
import { SyncPullResponse, SyncPushResponse } from './dto/sync.response.js';
import { SyncEventsService } from './sync-events.service.js';
import { SyncListeningGuard } from './sync-listening.guard.js';
import { SyncPullService } from './sync-pull.service.js';
import { SyncPushService } from './sync-push.service.js';

/** The 429 of pull and push (NewInstallationLimiter). */
const NEW_INSTALLATIONS =
  'An X-Device-Id new to the server (no cursor of it in the family, no push of it by the user) past the user\'s ' +
  'SYNC_NEW_INSTALLATION_LIMIT new installations per SYNC_NEW_INSTALLATION_WINDOW_SECONDS; nothing is applied or recorded';

@ApiTags('sync')
@ApiExtraModels(SyncTableChangesDto, SyncPushTableChangesDto)
@FamilyScoped()
@Controller('api/v1/sync')
export class SyncController {
  constructor(
    private readonly pullService: SyncPullService,
    private readonly pushService: SyncPushService,
    private readonly eventsService: SyncEventsService,
  ) {}

  /**
   * WatermelonDB pullChanges: every change since last_pulled_at, from one consistent snapshot.
   * The body comes from PostgreSQL as text and is written as is (brotli or gzip on the wire when the
   * client accepts it): no re-serialization, and no ETag (Express would hash every byte of a pull
   * that can be tens of MB, for a conditional GET that a sync client never sends).
   */
  @Get()
  @ApiDeviceIdHeader()
  @ApiOkResponse({
    type: SyncPullResponse,
    headers: {
      'Content-Encoding': {
        description: '`br` or `gzip` when the request\'s Accept-Encoding takes one and the answer is 1 KiB or more; absent otherwise (HTTP clients decode it)',
        schema: { type: 'string', enum: ['br', 'gzip'] },
      },
      Vary: { description: '`Accept-Encoding`', schema: { type: 'string' } },
    },
  })
  @ApiBadRequestResponse({
    type: ErrorResponse,
    description: 'A query parameter that is malformed (last_pulled_at, schema_version, migration) or unknown (VALIDATION_FAILED, named in details.fields)',
  })
  @ApiUnprocessableEntityResponse({
    type: ErrorResponse,
    description: '`migration` is not the JSON WatermelonDB sends, or X-Device-Id is invalid (VALIDATION_FAILED, details.field names which)',
  })
  @ApiConflictResponse({
    type: ErrorResponse,
    description: 'The family membership changed during the pull (SYNC_CONFLICT, details.membership_changed): sync again',
  })
  @ApiRateLimitedError(NEW_INSTALLATIONS)
  @ApiServerBusyError('A full pull (no cursor, a replacement, or a migration sync, which reads the tables it names whole) waited SYNC_FULL_PULL_WAIT_SECONDS for its turn among too many running')
  async pull(@Query() query: SyncPullQueryDto, @DeviceId() deviceId: string | null, @Req() req: Request, @Res() res: Response): Promise<void> {
    // A pull whose client hangs up leaves the full-pull queue, and its statement is cancelled.
    const body = await this.pullService.pull(query, deviceId, hangUpSignal(res));
    // Written as one Buffer: given the string, Node joined the headers to it (one more copy of the
    // whole body) and encoded that for the socket, holding about four times the body until the last
    // byte went out, for as long as a slow phone reads. Compressed when the phone asks (it does).
    await sendJsonText(req, res, body);
  }

  /** WatermelonDB pushChanges: applies every change or none. */
  @Post()
  @HttpCode(200)
  @ApiDeviceIdHeader()
  @ApiBody({ type: SyncPushBodyDto })
  @ApiOkResponse({ type: SyncPushResponse })
  @ApiJsonBodyErrors({
    badRequest:
      'A malformed or unknown query parameter (VALIDATION_FAILED, named in details.fields), or a body that is not valid JSON or not UTF-8, ' +
      'is cut short or does not decode (MALFORMED_REQUEST). The records themselves are checked later: 422',
    tooLarge: 'Body larger than SYNC_BODY_LIMIT_BYTES',
    alsoTooLarge:
      'or the push would give the family more records than SYNC_FAMILY_MAX_RECORDS, deleted ones included (RECORD_QUOTA_EXCEEDED: ' +
      'details.max_records, details.stored_records, details.new_records); nothing is applied. Pushes that create no record still go through',
  })
  @ApiForbiddenResponse({
    type: ErrorResponse,
    description:
      'A pushed id, family_id or blood_test_id belongs to another family (FORBIDDEN_RECORD, details.ids); nothing is applied. ' +
      'Or the caller is not a member of any family (NO_FAMILY)',
  })
  @ApiConflictResponse({
    type: ErrorResponse,
    description:
      'SYNC_CONFLICT: records changed on the server since last_pulled_at (details.conflicts), last_pulled_at is later than the family\'s version ' +
      '(details.field), or the family membership changed during the push (details.membership_changed): pull, then push again (synchronize() again)',
  })
  @ApiUnprocessableEntityResponse({
    type: ErrorResponse,
    description:
      'An invalid record (VALIDATION_FAILED; details.table, id and field name the first, details.errors lists them all), ' +
      'a body that is not an object { changes, lastPulledAt? }, an invalid or unknown body property, or an invalid X-Device-Id (details.field); nothing is applied',
  })
  @ApiRateLimitedError(NEW_INSTALLATIONS)
  push(
    @Query() query: SyncPushQueryDto,
    @Body() body: Record<string, unknown>,
    @DeviceId() deviceId: string | null,
  ): Promise<SyncPushResponse> {
    return this.pushService.push({ body, lastPulledAt: query.last_pulled_at ?? null, deviceId, fromDevice: true });
  }

  /**
   * Server-Sent Events: `sync` with `{ version }` now (the family's current version) and after
   * every committed change to the family's data (from any device, any app instance); `ping` every
   * 25 s. A device whose last pull is older than `version` should call synchronize().
   */
  @Sse('events')
  @UseGuards(SyncListeningGuard)
  @ApiOkResponse({
    description: 'text/event-stream of `sync` events ({ version }) and `ping` heartbeats',
    content: {
      'text/event-stream': {
        schema: { type: 'string' },
        example: 'event: sync\nid: 1764300000000\ndata: {"version":1764300000000}\n\nevent: ping\nid: 1764300000000\ndata: {}\n\n',
      },
    },
  })
  events(@CurrentFamily() family: FamilyScope, @CurrentUser() user: AuthenticatedUser): Observable<MessageEvent> {
    return this.eventsService.stream(family, user.signInId, user.accessExpiresAtMs);
  }
}
