import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Logger as Pino } from 'pino';
import { requestContext } from './request-context.js';

const ACCEPTABLE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id (a well-formed incoming `x-request-id` from a
 * proxy is kept), echoes it in the response, runs the rest of the request in
 * its logging context, and logs one line when the response is finished.
 */
export function requestLogging(logger: Pino) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = req.headers['x-request-id'];
    const reqId = typeof incoming === 'string' && ACCEPTABLE_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', reqId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const status = res.statusCode;
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
      logger[level](
        {
          reqId,
          method: req.method,
          // Never log query-string secrets.
          url: req.originalUrl.replace(/([?&](?:token|refresh_token|access_token)=)[^&]*/g, '$1[redacted]'),
          status,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
          bytes: Number(res.getHeader('content-length') ?? 0),
        },
        'request completed',
      );
    });
    requestContext.run({ reqId }, next);
  };
}
