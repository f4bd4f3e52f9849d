import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { ModuleRef } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import { httpConfig } from '../../config/configuration.js';
import { DomainError, ErrorCode } from '../errors/domain-error.js';
import { invalidField } from '../errors/invalid-request.js';
import { bodyParserError, pathOf } from './body-errors.js';
import { closeAfterAnswer, discardBody, MAX_DRAIN_BYTES } from './discard-body.js';
import { findUnstorableText } from './storable-text.js';
import { isUuid } from './uuid.js';

/** The sync push route as Express matches it: case-insensitively, with or without a trailing slash. */
const SYNC_PUSH_PATH = /^\/api\/v1\/sync\/?$/i;

/** The token passport-jwt reads: `Authorization: Bearer <token>`, scheme in any case. */
function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^\s*(\S+)\s+(\S+)/);
  return match && match[1].toLowerCase() === 'bearer' ? match[2] : undefined;
}

/**
 * JSON body parsing as Nest middleware (the app is created with bodyParser: false), so parse errors
 * and 413s go through the global exception filter like every other error.
 *
 * It runs before the guards, on every route, so it must not do for an anonymous caller what only a
 * signed-in one may ask for: every route gets BODY_LIMIT_BYTES, and only `POST /api/v1/sync` (a push
 * carrying a whole offline history) gets SYNC_BODY_LIMIT_BYTES — and only with a bearer token whose
 * signature and expiry verify. Without one the push is answered 401 before a byte is parsed (the
 * guards would refuse it anyway, after reading and parsing up to 64 MiB). Membership is still
 * checked by the guards.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  private readonly defaultParser: RequestHandler;
  private readonly syncParser: RequestHandler;
  private jwtService?: JwtService;

  constructor(
    @Inject(httpConfig.KEY) http: ConfigType<typeof httpConfig>,
    private readonly moduleRef: ModuleRef,
  ) {
    this.defaultParser = express.json({ limit: http.bodyLimitBytes });
    this.syncParser = express.json({ limit: http.syncBodyLimitBytes });
  }

  use(req: Request, res: Response, next: NextFunction): void {
    if (req.method === 'POST' && SYNC_PUSH_PATH.test(pathOf(req))) {
      this.syncPush(req, res, next);
      return;
    }
    this.defaultParser(req, res, (error?: unknown) => {
      if (error) return next(bodyParserError(error, req));
      const bad = findUnstorableText(req.body);
      if (!bad) return next();
      next(invalidField(bad.field, `${bad.field} ${bad.problem}`));
    });
  }

  /** Sync pushes check text per record in their own validator (422 naming table, id and field). */
  private syncPush(req: Request, res: Response, next: NextFunction): void {
    if (!this.hasValidAccessToken(req)) {
      const unauthenticated = new DomainError(ErrorCode.UNAUTHENTICATED, 'Unauthorized');
      // Nothing of the body is parsed or kept. A declared length past the drain bound is not read
      // at all: the answer goes out now and the connection is closed after it.
      if (Number(req.headers['content-length']) > MAX_DRAIN_BYTES) {
        closeAfterAnswer(req);
        next(unauthenticated);
        return;
      }
      void discardBody(req).then(() => next(unauthenticated));
      return;
    }
    this.syncParser(req, res, (error?: unknown) => next(error ? bodyParserError(error, req) : undefined));
  }

  /** The checks passport-jwt and JwtStrategy make without the database: HS256 signature, expiry, an access token of a user id. */
  private hasValidAccessToken(req: Request): boolean {
    const token = bearerToken(req.headers.authorization);
    if (!token) return false;
    try {
      const payload = this.jwt().verify<{ typ?: unknown; sub?: unknown }>(token, { algorithms: ['HS256'] });
      return payload.typ === 'access' && isUuid(payload.sub);
    } catch {
      return false;
    }
  }

  /** This application's JwtService (AuthModule's, holding the app's secret); AuthModule does not export it, so it is looked up once rather than injected. */
  private jwt(): JwtService {
    this.jwtService ??= this.moduleRef.get(JwtService, { strict: false });
    return this.jwtService;
  }
}
