import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import { httpConfig } from '../../config/configuration.js';
import { invalidField } from '../errors/invalid-request.js';
import { bodyParserError } from './body-errors.js';
import { findUnstorableText } from './storable-text.js';

/** The sync routes, spelled as Express matches them: case-insensitively, with or without a trailing path or query. */
const SYNC_ROUTE = /^\/api\/v1\/sync(?:[/?]|$)/i;

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
    // Sync pushes check text per record in their own validator (422 naming table, id and field).
    if (SYNC_ROUTE.test(req.originalUrl)) {
      this.syncParser(req, res, (error?: unknown) => next(error ? bodyParserError(error, req) : undefined));
      return;
    }
    this.defaultParser(req, res, (error?: unknown) => {
      if (error) return next(bodyParserError(error, req));
      const bad = findUnstorableText(req.body);
      if (!bad) return next();
      next(invalidField(bad.field, `${bad.field} ${bad.problem}`));
    });
  }
}
