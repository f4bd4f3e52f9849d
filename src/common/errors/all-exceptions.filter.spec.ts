import { jest } from '@jest/globals';
import { ArgumentsHost, BadRequestException, ForbiddenException, HttpException, InternalServerErrorException, Logger, PayloadTooLargeException } from '@nestjs/common';
import { AllExceptionsFilter } from './all-exceptions.filter.js';
import { DomainError, ErrorCode } from './domain-error.js';

function run(exception: unknown, path = '/api/v1/x') {
  const sent: { status?: number; body?: Record<string, unknown>; destroyed?: boolean } = {};
  const response = {
    headersSent: false,
    status(code: number) {
      sent.status = code;
      return this;
    },
    json(body: Record<string, unknown>) {
      sent.body = body;
      return this;
    },
    destroy() {
      sent.destroyed = true;
    },
  };
  const host = { switchToHttp: () => ({ getResponse: () => response, getRequest: () => ({ url: path, path }) }) } as unknown as ArgumentsHost;
  new AllExceptionsFilter().catch(exception, host);
  return sent;
}

/** What body-parser passes to next(): an http-errors instance. */
function parserError(type: string, status: number, extra: Record<string, unknown> = {}) {
  return Object.assign(new Error(`raw parser text for ${type}`), { type, status, statusCode: status, expose: true, ...extra });
}

describe('AllExceptionsFilter', () => {
  let logged: unknown[];
  beforeEach(() => {
    logged = [];
    jest.spyOn(Logger.prototype, 'error').mockImplementation((...args: unknown[]) => void logged.push(args));
  });
  afterEach(() => jest.restoreAllMocks());

  it.each([
    [ErrorCode.INVALID_CREDENTIALS, 401, 'Unauthorized'],
    [ErrorCode.EMAIL_TAKEN, 409, 'Conflict'],
    [ErrorCode.INVITE_CODE_INVALID, 404, 'Not Found'],
    [ErrorCode.NO_FAMILY, 403, 'Forbidden'],
    [ErrorCode.OWNER_ONLY, 403, 'Forbidden'],
    [ErrorCode.NOT_FOUND, 404, 'Not Found'],
    [ErrorCode.VALIDATION_FAILED, 422, 'Unprocessable Entity'],
    [ErrorCode.RATE_LIMITED, 429, 'Too Many Requests'],
    [ErrorCode.PAYLOAD_TOO_LARGE, 413, 'Payload Too Large'],
  ])('DomainError %s → %i with its message and code', (code, status, error) => {
    const sent = run(new DomainError(code, 'Something precise', { field: 'email' }));
    expect(sent.status).toBe(status);
    expect(sent.body).toEqual({ statusCode: status, error, message: 'Something precise', details: { code, field: 'email' } });
    expect(logged).toEqual([]);
  });

  it('non-object DomainError details are wrapped, not spread', () => {
    expect(run(new DomainError(ErrorCode.SYNC_CONFLICT, 'Conflict', ['id1', 'id2'])).body!.details).toEqual({
      code: ErrorCode.SYNC_CONFLICT,
      errors: ['id1', 'id2'],
    });
  });

  it('a DomainError that maps to 500 (missing family scope) is a bare 500 and is logged', () => {
    const sent = run(new DomainError(ErrorCode.FAMILY_SCOPE_MISSING, 'No family in the request context'));
    expect(sent.status).toBe(500);
    expect(sent.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' });
    expect(logged).toHaveLength(1);
  });

  it('HttpException keeps status and message; validation details pass through', () => {
    expect(run(new ForbiddenException('Nope')).body).toEqual({ statusCode: 403, error: 'Forbidden', message: 'Nope' });
    const validation = new BadRequestException({ message: 'email must be an email', details: { code: 'VALIDATION_FAILED', fields: [{ field: 'email', errors: ['x'] }] } });
    expect(run(validation).body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'email must be an email',
      details: { code: 'VALIDATION_FAILED', fields: [{ field: 'email', errors: ['x'] }] },
    });
    expect(run(new BadRequestException(['a is bad', 'b is bad'])).body!.message).toBe('a is bad; b is bad');
    expect(run(new HttpException('I am a teapot', 418)).body).toEqual({ statusCode: 418, error: "I'm a Teapot", message: 'I am a teapot' });
  });

  it('a 5xx HttpException does not leak its message', () => {
    const sent = run(new InternalServerErrorException('pool exhausted at db-7'));
    expect(sent.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' });
    expect(logged).toHaveLength(1);
  });

  it.each([
    ['entity.parse.failed', 400, 'Request body is not valid JSON'],
    ['encoding.unsupported', 415, 'Unsupported request body encoding'],
    ['charset.unsupported', 415, 'Unsupported request body encoding'],
  ])('raw body-parser error %s → %i with our message and the parser code', (type, status, message) => {
    expect(run(parserError(type, status)).body).toEqual({ statusCode: status, error: expect.any(String), message, details: { code: type } });
  });

  it('a body over the limit → 413 naming the route and the limit', () => {
    expect(run(parserError('entity.too.large', 413, { limit: 2048 }), '/api/v1/auth/register').body).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: 'Request body is larger than the limit for /api/v1/auth/register (2048 bytes)',
      details: { code: 'PAYLOAD_TOO_LARGE', max_bytes: 2048 },
    });
  });

  it('body-parser errors wrapped by Nest (HttpException with cause) get the same answer as raw ones', () => {
    const syntax = parserError('entity.parse.failed', 400);
    expect(run(new BadRequestException(syntax.message, { cause: syntax })).body).toEqual(run(syntax).body);
    const tooLarge = parserError('entity.too.large', 413, { limit: 2048 });
    expect(run(new PayloadTooLargeException(tooLarge.message, { cause: tooLarge })).body).toEqual(run(tooLarge).body);
  });

  it('an unknown error → 500 without its message, logged', () => {
    const sent = run(new Error('duplicate key value violates unique constraint "users_email_lower_key" SELECT * FROM users'));
    expect(sent.status).toBe(500);
    expect(sent.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' });
    expect(logged).toHaveLength(1);
    expect(run('a thrown string').body!.statusCode).toBe(500);
    expect(run(null).body!.statusCode).toBe(500);
    expect(run(undefined).body!.statusCode).toBe(500);
  });

  it('an unknown error carrying a 5xx status is still a bare 500', () => {
    expect(run(Object.assign(new Error('EACCES /srv/uploads/x'), { status: 500 })).body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'Internal server error',
    });
  });
});
