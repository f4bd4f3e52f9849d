import { Body, Controller, Get, HttpCode, type MessageEvent, Post, Query, Res, Sse } from '@nestjs/common';
import type { Response } from 'express';
import type { Observable } from 'rxjs';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiExtraModels,
  ApiForbiddenResponse,
  ApiHeader,
  ApiOkResponse,
  ApiPayloadTooLargeResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { ErrorResponse } from '../../common/errors/error-response.js';
import { hangUpSignal } from '../../common/http/hang-up-signal.js';
import { CurrentFamily, CurrentUser, FamilyScoped } from '../../common/family-scope/decorators.js';
import type { FamilyScope } from '../../common/family-scope/family-context.js';
import type { AuthenticatedUser } from '../../common/family-scope/family-scope.request.js';
import { DeviceId } from './device-id.decorator.js';
import { SyncPullQueryDto, SyncPushBodyDto, SyncPushQueryDto, SyncTableChangesDto } from './dto/sync.dto.js';
import { SyncPullResponse, SyncPushResponse } from './dto/sync.response.js';
import { SyncEventsService } from './sync-events.service.js';
import { SyncPullService } from './sync-pull.service.js';
import { SyncPushService } from './sync-push.service.js';

@ApiTags('sync')
@ApiExtraModels(SyncTableChangesDto)
@ApiHeader({ name: 'X-Device-Id', required: false, description: 'Stable id of the app installation (same on pull and push)' })
@ApiUnprocessableEntityResponse({ type: ErrorResponse, description: 'Invalid record or parameter; details name table, id and field' })
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
   * The body comes from PostgreSQL as text and is written as is: no re-serialization, and no ETag
   * (Express would hash every byte of a pull that can be tens of MB, for a conditional GET that a
   * sync client never sends).
   */
  @Get()
  @ApiOkResponse({ type: SyncPullResponse })
  @ApiBadRequestResponse({ type: ErrorResponse, description: 'Malformed query parameter' })
  @ApiConflictResponse({ type: ErrorResponse, description: 'The family membership changed during the pull (details.membership_changed): sync again' })
  async pull(@Query() query: SyncPullQueryDto, @DeviceId() deviceId: string | null, @Res() res: Response): Promise<void> {
    // A pull whose client hangs up leaves the full-pull queue, and its statement is cancelled.
    const body = await this.pullService.pull(query, deviceId, hangUpSignal(res));
    res.status(200).setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(body);
  }

  /** WatermelonDB pushChanges: applies every change or none. */
  @Post()
  @HttpCode(200)
  @ApiBody({ type: SyncPushBodyDto })
  @ApiOkResponse({ type: SyncPushResponse })
  @ApiForbiddenResponse({ type: ErrorResponse, description: 'A pushed id, family_id or blood_test_id belongs to another family' })
  @ApiConflictResponse({
    type: ErrorResponse,
    description:
      'Records changed on the server since last_pulled_at (details.conflicts), last_pulled_at is later than the family\'s version, ' +
      'or the family membership changed during the push: pull, then push again (synchronize() again)',
  })
  @ApiPayloadTooLargeResponse({ type: ErrorResponse, description: 'Body larger than SYNC_BODY_LIMIT_BYTES' })
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
  @ApiOkResponse({ description: 'text/event-stream of `sync` events ({ version }) and `ping` heartbeats' })
  events(@CurrentFamily() family: FamilyScope, @CurrentUser() user: AuthenticatedUser): Observable<MessageEvent> {
    return this.eventsService.stream(family, user.signInId, user.accessExpiresAtMs);
  }
}
