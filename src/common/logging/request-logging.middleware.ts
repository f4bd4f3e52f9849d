import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Logger as Pino } from 'pino';
import { cutBySendTimeout } from '../http/send-timeout.js';
import { requestContext } from './request-context.js';

const ACCEPTABLE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A URL as it may be logged: never with a token of its query string. */
export function loggableUrl(url: string): string {
  return url.replace(/([?&](?:token|refresh_token|access_token)=)[^&]*/g, '$1[redacted]');
}

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
    const body = countBodyBytes(res);
    const fields = (status: number | null) => ({
      reqId,
      method: req.method,
      url: loggableUrl(req.originalUrl),
      status,
      durationMs: Number(process.hrtime.bigint() - started) / 1e6,
      // What went out as the body: a pull written with res.end(text) sets no Content-Length
      // header for the log to read (it logged 0), and a HEAD sends none of the length it declares.
      bytes: req.method === 'HEAD' || status === 204 || status === 304 ? 0 : body.bytes,
    });
    // At warn, like the 408 below: if phones that were still reading get cut, SEND_TIMEOUT_SECONDS is too short.
    const logCut = (status: number) => logger.warn(fields(status), 'the client stopped reading the answer (SEND_TIMEOUT_SECONDS); connection closed');
    res.on('finish', () => {
      const status = res.statusCode;
      // A connection the send timeout destroys 'finish'es too (its last write is called back).
      if (cutBySendTimeout(res)) logCut(status);
      else logger[status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info'](fields(status), 'request completed');
    });
    // A connection that ends before the answer does not 'finish': without this, an upload cut by
    // Node's request timeout (a 408 Node writes itself) or a client that hung up left no line at all,
    // and an operator could not tell that REQUEST_TIMEOUT_SECONDS is too short for their users.
    res.on('close', () => {
      if (res.writableFinished) return;
      const timedOut = (req.socket.errored as NodeJS.ErrnoException | null)?.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      if (timedOut) logger.warn(fields(408), 'request timed out before it had fully arrived (REQUEST_TIMEOUT_SECONDS); answered 408');
      else if (cutBySendTimeout(res)) logCut(res.statusCode);
      // An event stream or a download the phone stopped reading has its status sent already.
      else logger.info(fields(res.headersSent ? res.statusCode : null), 'the client closed the connection before the answer was complete');
    });
    requestContext.run({ reqId }, next);
  };
}

/** Counts the body bytes the app writes to `res` (its write and end calls). */
function countBodyBytes(res: Response): { bytes: number } {
  const counted = { bytes: 0 };
  const add = (chunk: unknown, encoding: unknown) => {
    if (typeof chunk === 'string') counted.bytes += Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    else if (chunk instanceof Uint8Array) counted.bytes += chunk.byteLength;
  };
  const write = res.write;
  const end = res.end;
  res.write = function (this: Response, chunk: unknown, ...rest: unknown[]) {
    add(chunk, rest[0]);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as Response['write'];
  res.end = function (this: Response, chunk?: unknown, ...rest: unknown[]) {
    if (chunk !== undefined && typeof chunk !== 'function') add(chunk, rest[0]);
    return (end as (...args: unknown[]) => Response).call(this, chunk, ...rest);
  } as Response['end'];
  return counted;
}
