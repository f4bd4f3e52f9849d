import { jest } from '@jest/globals';
import { ArgumentsHost, BadRequestException, ForbiddenException, HttpException, InternalServerErrorException, Logger, NotFoundException, UnauthorizedException } from '@nestjs/common';
import { AllExceptionsFilter } from './all-exceptions.filter.js';
import { DomainError, ErrorCode } from './domain-error.js';
import { invalidField, invalidRequest } from './invalid-request.js';

function run(exception: unknown, path = '/api/v1/x', headersSent = false) {
  const sent: { status?: number; body?: Record<string, unknown>; destroyed?: boolean } = {};
  const response = {
    headersSent,
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
    [ErrorCode.MALFORMED_REQUEST, 400, 'Bad Request'],
    [ErrorCode.INVALID_UPLOAD, 400, 'Bad Request'],
    [ErrorCode.RANGE_NOT_SATISFIABLE, 416, 'Range Not Satisfiable'],
    [ErrorCode.PRECONDITION_FAILED, 412, 'Precondition Failed'],
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

  it('invalidRequest is a 400 VALIDATION_FAILED naming every field, its message joining their errors', () => {
    const fields = [
      { field: 'email', errors: ['email must be an email'] },
      { field: 'password', errors: ['password is too short', 'password must be a string'] },
    ];
    expect(run(invalidRequest(fields))).toEqual({
      status: 400,
      body: {
        statusCode: 400,
        error: 'Bad Request',
        message: 'email must be an email; password is too short; password must be a string',
        details: { code: 'VALIDATION_FAILED', fields },
      },
    });
    expect(run(invalidField('id', 'id must be a UUID')).body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'id must be a UUID',
      details: { code: 'VALIDATION_FAILED', fields: [{ field: 'id', errors: ['id must be a UUID'] }] },
    });
    // The same code from a rule refusing a well-formed request stays a 422.
    expect(run(new DomainError(ErrorCode.VALIDATION_FAILED, 'rule')).status).toBe(422);
  });

  it('HttpException keeps status, message and details', () => {
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

  it.each([
    [new UnauthorizedException(), 401, 'Unauthorized', ErrorCode.UNAUTHENTICATED],
    [new NotFoundException('Cannot GET /api/v1/nope'), 404, 'Cannot GET /api/v1/nope', ErrorCode.NOT_FOUND],
    [new BadRequestException('Validation failed (uuid is expected)'), 400, 'Validation failed (uuid is expected)', ErrorCode.MALFORMED_REQUEST],
    [new HttpException('slow down', 429), 429, 'slow down', ErrorCode.RATE_LIMITED],
  ])('a 4xx HttpException without a code (passport, Nest routing, a pipe) gets its status\'s code: %s', (exception, status, message, code) => {
    expect(run(exception).body).toEqual({ statusCode: status, error: expect.any(String), message, details: { code } });
  });

  it('an HttpException whose details lack a code gets one; a code of its own is kept', () => {
    expect(run(new UnauthorizedException({ message: 'x', details: { hint: 'refresh' } })).body!.details).toEqual({ code: 'UNAUTHENTICATED', hint: 'refresh' });
    expect(run(new UnauthorizedException({ message: 'x', details: { code: 'INVALID_CREDENTIALS' } })).body!.details).toEqual({ code: 'INVALID_CREDENTIALS' });
  });

  it('a 5xx HttpException does not leak its message', () => {
    const sent = run(new InternalServerErrorException('pool exhausted at db-7'));
    expect(sent.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' });
    expect(logged).toHaveLength(1);
  });

  it('an error of Express or a parser carrying a 4xx status keeps it, with its status\'s code', () => {
    const exposed = Object.assign(new Error('request aborted'), { status: 400, expose: true });
    expect(run(exposed).body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'request aborted', details: { code: 'MALFORMED_REQUEST' } });
    const hidden = Object.assign(new Error('internal text'), { statusCode: 413, expose: false });
    expect(run(hidden).body).toEqual({ statusCode: 413, error: 'Payload Too Large', message: 'Payload Too Large', details: { code: 'PAYLOAD_TOO_LARGE' } });
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

  it('logs the path of a 500 without a token sent in the query string (as the access log line does)', () => {
    run(new Error('boom'), '/api/v1/sync/events?access_token=eyJhbGciOi.payload.signature&x=1');
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged)).not.toContain('eyJhbGciOi');
    expect(logged[0]).toEqual([expect.objectContaining({ path: '/api/v1/sync/events?access_token=[redacted]&x=1' }), 'unhandled error']);
  });

  // Found by mutation testing: a filter that wrote its answer after the headers of another had gone out
  // (a download or a pull failing mid-body) passed every test. The connection must be cut instead: a
  // client told a Content-Length would otherwise wait for the rest of a body that never comes.
  it.each([
    ['an unknown error', new Error('stream failed')],
    ['a DomainError', new DomainError(ErrorCode.NOT_FOUND, 'gone')],
  ])('%s after the answer has begun cuts the connection, and writes nothing', (_, exception) => {
    const sent = run(exception, '/api/v1/files/x', true);
    expect(sent).toEqual({ destroyed: true });
  });

  it('an unknown error carrying a 5xx status is still a bare 500', () => {
    expect(run(Object.assign(new Error('EACCES /srv/uploads/x'), { status: 500 })).body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'Internal server error',
    });
  });
});
