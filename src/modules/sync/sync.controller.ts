import { Body, Controller, Get, Header, HttpCode, Post, Query } from '@nestjs/common';
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
import { FamilyScoped } from '../../common/family-scope/decorators.js';
import { DeviceId } from './device-id.decorator.js';
import { SyncPullQueryDto, SyncPushBodyDto, SyncPushQueryDto, SyncTableChangesDto } from './dto/sync.dto.js';
import { SyncPullResponse, SyncPushResponse } from './dto/sync.response.js';
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
  ) {}

  /** WatermelonDB pullChanges: every change since last_pulled_at, from one consistent snapshot. */
  @Get()
  @Header('Content-Type', 'application/json; charset=utf-8')
  @ApiOkResponse({ type: SyncPullResponse })
  @ApiBadRequestResponse({ type: ErrorResponse, description: 'Malformed query parameter' })
  pull(@Query() query: SyncPullQueryDto, @DeviceId() deviceId: string | null): Promise<string> {
    return this.pullService.pull(query, deviceId);
  }

  /** WatermelonDB pushChanges: applies every change or none. */
  @Post()
  @HttpCode(200)
  @ApiBody({ type: SyncPushBodyDto })
  @ApiOkResponse({ type: SyncPushResponse })
  @ApiForbiddenResponse({ type: ErrorResponse, description: 'A pushed id, family_id or blood_test_id belongs to another family' })
  @ApiConflictResponse({ type: ErrorResponse, description: 'Records changed on the server since last_pulled_at (details.conflicts): pull, then push again' })
  @ApiPayloadTooLargeResponse({ type: ErrorResponse, description: 'Body larger than SYNC_BODY_LIMIT_BYTES' })
  push(
    @Query() query: SyncPushQueryDto,
    @Body() body: Record<string, unknown>,
    @DeviceId() deviceId: string | null,
  ): Promise<SyncPushResponse> {
    return this.pushService.push({ body, lastPulledAt: query.last_pulled_at ?? null, deviceId });
  }
}
