import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { ErrorResponse } from '../../common/errors/error-response.js';
import { HealthResponse } from './dto/health.response.js';
import { HealthService } from './health.service.js';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  /** Liveness and database reachability (and that it takes writes), for load balancers and orchestrators. */
  @Get()
  @ApiOkResponse({ type: HealthResponse })
  @ApiServiceUnavailableResponse({ type: ErrorResponse, description: 'The database is unreachable (`Database unreachable`), or answers but refuses writes, a hot standby or a read-only database (`Database read-only`); no details: this 503 carries no code' })
  check(): Promise<HealthResponse> {
    return this.health.check();
  }
}
