import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { RequestAbandonedError } from '../../database/abortable-query-runner.js';
import { closeAfterAnswer } from '../http/discard-body.js';
import { StorageUnavailableError } from '../../modules/documents/storage/file-storage.js';
import { loggableUrl } from '../logging/request-logging.middleware.js';
import { isDatabaseUnavailable, isTransientConflict, sqlStateOf } from '../postgres-errors.js';
import { DomainError, ErrorCode } from './domain-error.js';

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: unknown;
}

/** An error that is not ours but carries an HTTP status (http-errors, as thrown by Express and its parsers). */
interface HttpishError {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
}

/**
 * The code of a 4xx raised without one (passport's and JwtAuthGuard's 401, Nest's 404 for an unknown
 * route, a pipe's 400), so every client-error answer carries `details.code`.
 */
const CODE_BY_STATUS: Partial<Record<number, ErrorCode>> = {
  [HttpStatus.BAD_REQUEST]: ErrorCode.MALFORMED_REQUEST,
  [HttpStatus.UNAUTHORIZED]: ErrorCode.UNAUTHENTICATED,
  [HttpStatus.NOT_FOUND]: ErrorCode.NOT_FOUND,
  [HttpStatus.PAYLOAD_TOO_LARGE]: ErrorCode.PAYLOAD_TOO_LARGE,
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  [HttpStatus.TOO_MANY_REQUESTS]: ErrorCode.RATE_LIMITED,
};

/** How long a client is asked to wait while the database is unavailable (a restart or fail-over takes seconds). */
const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * Maps every error to `{ statusCode, error, message, details? }`. Expected
 * failures keep their message; a database that cannot be reached or is not
 * taking work, or that ended the request's transaction to resolve a conflict
 * (40P01, 40001), is 503 DATABASE_UNAVAILABLE with Retry-After, object storage
 * that cannot (StorageUnavailableError) 503 STORAGE_UNAVAILABLE (outages, not
 * bugs: a warning with the cause); anything else is logged with the request id
 * and answered as a bare 500 (no stack, no SQL).
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger(AllExceptionsFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const request = http.getRequest<Request>();
    if (exception instanceof RequestAbandonedError) {
      // Nobody to answer: the client hung up and its work was stopped on purpose.
      this.logger.log({ path: request && loggableUrl(request.url) }, 'client hung up; its work was cancelled');
      response.destroy();
      return;
    }
    if (isDatabaseUnavailable(exception)) {
      const cause = exception as { code?: unknown; message?: unknown };
      this.logger.warn({ cause: cause.message || cause.code, path: request && loggableUrl(request.url) }, 'database unavailable; answered 503');
      exception = new DomainError(ErrorCode.DATABASE_UNAVAILABLE, 'The database is unavailable; try again shortly', {
        retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
      });
    } else if (isTransientConflict(exception)) {
      // The database rolled the request's transaction back to resolve a conflict with another (a deadlock
      // victim, a serialization failure): nothing was applied, and the same request again is what
      // PostgreSQL's manual prescribes. Versioned writes have run it again already (FamilyVersionService);
      // a conflict past those attempts, or in another write, is the database too busy right now, not a
      // bug: 503 with Retry-After, like a lock timeout (it answered 500, logged as an unhandled error).
      this.logger.warn({ sqlState: sqlStateOf(exception), path: request && loggableUrl(request.url) }, 'transaction ended by the database to resolve a conflict; answered 503');
      exception = new DomainError(ErrorCode.DATABASE_UNAVAILABLE, 'The database ended this request to resolve a conflict with another; try again shortly', {
        retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
      });
    }
    if (exception instanceof StorageUnavailableError) {
      // Classified by the storage driver (the S3 SDK's errors are known there); answered as thrown: 503 with Retry-After.
      this.logger.warn({ cause: exception.reason, path: request && loggableUrl(request.url) }, 'file storage unavailable; answered 503');
    }
    const body = this.toBody(exception);
    // A 503 is thrown on purpose (the database or the storage is down, the server is busy), its cause logged above or by its thrower.
    if (body.statusCode >= 500 && !isServiceUnavailable(exception)) {
      this.logger.error({ err: exception, path: request && loggableUrl(request.url) }, 'unhandled error');
    }
    if (response.headersSent) {
      response.destroy();
      return;
    }
    // Answered while the body is still arriving, unread (a guard's 401 on an upload): Node would keep
    // a keep-alive connection open, waiting for the rest of the body, up to REQUEST_TIMEOUT_SECONDS.
    // Closed after the answer instead, like every other refused body (found by mutation testing).
    if (request?.complete === false) closeAfterAnswer(request);
    const retryAfter = (body.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    if (typeof retryAfter === 'number') response.setHeader('Retry-After', String(retryAfter));
    response.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown): ErrorBody {
    if (exception instanceof DomainError) {
      if (exception.status >= 500 && exception.status !== HttpStatus.SERVICE_UNAVAILABLE) return internal();
      return {
        statusCode: exception.status,
        error: STATUS_CODES[exception.status] ?? 'Error',
        message: exception.message,
        details: { code: exception.code, ...(exception.details ? asObject(exception.details) : {}) },
      };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const res = exception.getResponse();
      const payload = typeof res === 'string' ? { message: res } : (res as Record<string, unknown>);
      const message = Array.isArray(payload.message) ? payload.message.join('; ') : String(payload.message ?? exception.message);
      const error = STATUS_CODES[status] ?? 'Error';
      if (status >= 500) return { statusCode: status, error, message: status === HttpStatus.SERVICE_UNAVAILABLE ? message : 'Internal server error' };
      return { statusCode: status, error, message, ...withCode(status, payload.details) };
    }
    const httpish = exception as HttpishError | null | undefined;
    const status = httpish?.status ?? httpish?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return {
        statusCode: status,
        error: STATUS_CODES[status] ?? 'Error',
        message: httpish!.expose && httpish!.message ? httpish!.message : (STATUS_CODES[status] ?? 'Bad request'),
        ...withCode(status, undefined),
      };
    }
    return internal();
  }
}

/** `details` as given, with the status's code when they have none. */
function withCode(status: number, details: unknown): { details?: unknown } {
  const code = CODE_BY_STATUS[status];
  if (details === undefined) return code ? { details: { code } } : {};
  const given = asObject(details);
  return { details: given.code === undefined && code ? { code, ...given } : given };
}

function isServiceUnavailable(exception: unknown): boolean {
  const status = exception instanceof HttpException ? exception.getStatus() : exception instanceof DomainError ? exception.status : undefined;
  return status === HttpStatus.SERVICE_UNAVAILABLE;
}

function internal(): ErrorBody {
  return { statusCode: HttpStatus.INTERNAL_SERVER_ERROR, error: 'Internal Server Error', message: 'Internal server error' };
}

function asObject(details: unknown): Record<string, unknown> {
  return typeof details === 'object' && details !== null && !Array.isArray(details)
    ? (details as Record<string, unknown>)
    : { errors: details };
}
