import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { DomainError, ErrorCode } from './domain-error.js';

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  details?: unknown;
}

/** Errors of the JSON body parser (body-parser / raw-body) carry an HTTP status and a `type`; uploads (busboy) raise DomainErrors. */
interface HttpishError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
  message?: string;
  limit?: number;
}

/**
 * Maps every error to `{ statusCode, error, message, details? }`. Expected
 * failures keep their message; anything else is logged with the request id
 * and answered as a bare 500 (no stack, no SQL).
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger(AllExceptionsFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const request = http.getRequest<Request>();
    const body = this.toBody(exception, request);
    // A 503 is thrown on purpose (the database is down) by code that has logged its cause.
    if (body.statusCode >= 500 && !isServiceUnavailable(exception)) {
      this.logger.error({ err: exception, path: request?.url }, 'unhandled error');
    }
    if (response.headersSent) {
      response.destroy();
      return;
    }
    response.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown, request?: Request): ErrorBody {
    // Express hands body-parser errors to Nest, which wraps them in an HttpException
    // (cause = the original error) before they reach this filter: unwrap them so they
    // get our message and code rather than the parser's own text.
    if (exception instanceof HttpException && isParserError(exception.cause)) exception = exception.cause;
    if (exception instanceof DomainError) {
      if (exception.status >= 500) return internal();
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
      return {
        statusCode: status,
        error: STATUS_CODES[status] ?? 'Error',
        message: status >= 500 && status !== HttpStatus.SERVICE_UNAVAILABLE ? 'Internal server error' : message,
        ...(payload.details !== undefined ? { details: payload.details } : {}),
      };
    }
    const httpish = exception as HttpishError;
    const status = httpish?.status ?? httpish?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return {
        statusCode: status,
        error: STATUS_CODES[status] ?? 'Error',
        message: describeParserError(httpish, request),
        ...(httpish.type ? { details: parserDetails(httpish) } : {}),
      };
    }
    return internal();
  }
}

function isServiceUnavailable(exception: unknown): boolean {
  return exception instanceof HttpException && exception.getStatus() === HttpStatus.SERVICE_UNAVAILABLE;
}

function internal(): ErrorBody {
  return { statusCode: HttpStatus.INTERNAL_SERVER_ERROR, error: 'Internal Server Error', message: 'Internal server error' };
}

function asObject(details: unknown): Record<string, unknown> {
  return typeof details === 'object' && details !== null && !Array.isArray(details)
    ? (details as Record<string, unknown>)
    : { errors: details };
}

function isParserError(error: unknown): error is HttpishError {
  return typeof error === 'object' && error !== null && typeof (error as HttpishError).type === 'string' && typeof (error as HttpishError).status === 'number';
}

/** A body over the limit has the same code as every other 413 (an upload too large); other parser errors keep theirs. */
function parserDetails(error: HttpishError): Record<string, unknown> {
  if (error.type === 'entity.too.large') return { code: ErrorCode.PAYLOAD_TOO_LARGE, ...(error.limit ? { max_bytes: error.limit } : {}) };
  return { code: error.type };
}

function describeParserError(error: HttpishError, request?: Request): string {
  switch (error.type) {
    case 'entity.parse.failed':
      return 'Request body is not valid JSON';
    case 'entity.too.large':
      return `Request body is larger than the limit for ${request?.path ?? 'this route'}${error.limit ? ` (${error.limit} bytes)` : ''}`;
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return 'Unsupported request body encoding';
    default:
      return error.expose && error.message ? error.message : 'Bad request';
  }
}
