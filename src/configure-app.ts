import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import { DATABASE_UNAVAILABLE_RESPONSE } from './common/errors/api-error-responses.js';
import { AppLogger, createPino } from './common/logging/app-logger.js';
import { requestLogging } from './common/logging/request-logging.middleware.js';
import { answerExpectContinueFromApp } from './common/http/expect-continue.js';
import { answerUnreadableRequestsInShape, refuseMissingHost } from './common/http/unreadable-request.js';
import { carryOutPipelinedRequestsInTurn } from './common/http/pipelined-requests.js';
import { sendTimeout } from './common/http/send-timeout.js';
import { createValidationPipe } from './common/http/validation.js';
import { appConfig, httpConfig } from './config/configuration.js';

/** Express's `req.fresh` (what makes `res.send` answer 304) as false for this request. */
function neverFresh(req: Request): void {
  Object.defineProperty(req, 'fresh', { value: false, configurable: true });
}

/** Everything server.ts and the e2e tests set up identically on the app. */
export function configureApp(app: NestExpressApplication): INestApplication {
  const http = app.get<ConfigType<typeof httpConfig>>(httpConfig.KEY);
  const logger = createPino(app.get<ConfigType<typeof appConfig>>(appConfig.KEY).logLevel);
  app.useLogger(new AppLogger(logger));
  app.use(requestLogging(logger));
  app.use(refuseMissingHost);
  app.use(carryOutPipelinedRequestsInTurn);
  app.set('trust proxy', http.trustProxy);
  app.disable('x-powered-by');
  answerExpectContinueFromApp(app.getHttpServer());
  answerUnreadableRequestsInShape(app.getHttpServer(), logger);
  (app.getHttpServer() as Server).requestTimeout = http.requestTimeoutMs;
  app.use(sendTimeout(http.sendTimeoutMs));
  // No upgrade-insecure-requests: over plain HTTP at a LAN address it made browsers fetch /docs assets over HTTPS (blank Swagger UI).
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  // Medical data and tokens: no shared or browser cache keeps API answers (downloads set their own).
  // Nor is an answer ever "not modified": Express answered a JSON GET (`/auth/me`, `/families/me`,
  // `/upload/limits`, `/health`) with a bodyless 304 when its If-None-Match matched the weak ETag
  // Express computes, or was `*`: a status those routes do not document and no-store rules out.
  // Downloads answer their own conditions (FilesService), never through Express's freshness.
  app.use('/api', (req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Cache-Control', 'no-store');
    neverFresh(req);
    next();
  });
  app.use('/health', (req: Request, _res: Response, next: NextFunction) => {
    neverFresh(req);
    next();
  });
  if (http.corsOrigins.length) {
    app.enableCors({
      origin: http.corsOrigins.includes('*') ? true : http.corsOrigins,
      // What a browser client needs beyond the safelisted headers: the id to quote in a support request,
      // when to retry, and what a download or an upload answered (the file's ETag for If-Match/If-Range,
      // the part a range got, the file's name, the created file's URL).
      exposedHeaders: ['x-request-id', 'retry-after', 'etag', 'content-range', 'content-disposition', 'location'],
    });
  }
  app.useGlobalPipes(createValidationPipe());

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('HemoDay API')
      .setDescription(
        'Backend of the HemoDay app: auth, families, WatermelonDB sync and documents. ' +
          'Every error has the shape { statusCode, error, message, details? }.',
      )
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      .addGlobalResponse(DATABASE_UNAVAILABLE_RESPONSE)
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
