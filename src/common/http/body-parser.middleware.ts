import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import { httpConfig } from '../../config/configuration.js';

/**
 * JSON body parsing as Nest middleware (the app is created with bodyParser:
 * false), so parse errors and 413s go through the global exception filter.
 * Sync routes carry whole offline histories and get their own, larger, limit.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  private readonly defaultParser: RequestHandler;
  private readonly syncParser: RequestHandler;

  constructor(@Inject(httpConfig.KEY) http: ConfigType<typeof httpConfig>) {
    this.defaultParser = express.json({ limit: http.bodyLimitBytes });
    this.syncParser = express.json({ limit: http.syncBodyLimitBytes });
  }

  use(req: Request, res: Response, next: NextFunction): void {
    const parser = req.originalUrl.startsWith('/api/v1/sync') ? this.syncParser : this.defaultParser;
    parser(req, res, next);
  }
}
