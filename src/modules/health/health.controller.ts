import { Controller, Get, HttpCode, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ErrorResponse } from '../../common/errors/error-response.js';
import { HealthResponse } from './dto/health.response.js';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Liveness and database reachability, for load balancers and orchestrators. */
  @Get()
  @HttpCode(200)
  @ApiOkResponse({ type: HealthResponse })
  @ApiServiceUnavailableResponse({ type: ErrorResponse })
  async check(): Promise<HealthResponse> {
    const started = process.hrtime.bigint();
    try {
      await this.dataSource.query('SELECT 1');
    } catch {
      throw new ServiceUnavailableException('Database unreachable');
    }
    return { status: 'ok', database: { status: 'up', latencyMs: Number(process.hrtime.bigint() - started) / 1e6 } };
  }
}
