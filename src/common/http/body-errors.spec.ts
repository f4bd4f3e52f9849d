import type { Request } from 'express';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DomainError, ErrorCode } from '../errors/domain-error.js';
import { bodyParserError } from './body-errors.js';

function request(headers: Record<string, string> = {}, url = '/api/v1/auth/register?x=1'): Request {
  return { headers, originalUrl: url } as unknown as Request;
}

/** What body-parser passes to next(): an http-errors instance. */
function parserError(type: string | undefined, status: number, extra: Record<string, unknown> = {}) {
  return Object.assign(new Error(`raw parser text for ${type}`), { type, status, statusCode: status, expose: true, ...extra });
}

describe('bodyParserError', () => {
  it.each([
    ['entity.parse.failed', 400, ErrorCode.MALFORMED_REQUEST, 400, 'Request body is not valid JSON'],
    ['encoding.unsupported', 415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, 415, 'Unsupported Content-Encoding: send the body uncompressed or as gzip, deflate, br'],
    ['charset.unsupported', 415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, 415, 'Unsupported request body charset: send JSON as UTF-8'],
    ['request.aborted', 400, ErrorCode.MALFORMED_REQUEST, 400, 'The request body was interrupted'],
  ])('%s → %s with our wording, never the parser\'s', (type, status, code, expected, message) => {
    const error = bodyParserError(parserError(type, status), request()) as DomainError;
    expect(error).toBeInstanceOf(DomainError);
    expect({ code: error.code, status: error.status, message: error.message }).toEqual({ code, status: expected, message });
  });

  it('a body over the limit → 413 PAYLOAD_TOO_LARGE naming the route (without its query) and the limit', () => {
    const error = bodyParserError(parserError('entity.too.large', 413, { limit: 2048 }), request()) as DomainError;
    expect(error.code).toBe(ErrorCode.PAYLOAD_TOO_LARGE);
    expect(error.message).toBe('Request body is larger than the limit for /api/v1/auth/register (2048 bytes)');
    expect(error.details).toEqual({ max_bytes: 2048 });
  });

  it('a corrupt gzip body (zlib: "unexpected end of file", no type) → 400 MALFORMED_REQUEST saying what is wrong', () => {
    const truncated = gzipSync(Buffer.from(JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(100) }))).subarray(0, 20);
    let zlibError: unknown;
    try {
      gunzipSync(truncated);
    } catch (error) {
      zlibError = error;
    }
    // What body-parser passes on: zlib's own error, given a 400 by http-errors (no `type`).
    const raw = Object.assign(zlibError as Error, { status: 400, statusCode: 400, expose: true });
    expect(raw).toMatchObject({ code: 'Z_BUF_ERROR', message: 'unexpected end of file' });
    const error = bodyParserError(raw, request({ 'content-encoding': 'gzip' })) as DomainError;
    expect({ code: error.code, status: error.status, message: error.message }).toEqual({
      code: ErrorCode.MALFORMED_REQUEST,
      status: 400,
      message: 'Request body is not valid gzip data (Content-Encoding: gzip)',
    });
  });

  it('leaves a 5xx (our own misuse of a stream) and non-HTTP errors to the filter', () => {
    const internal = parserError('stream.encoding.set', 500);
    expect(bodyParserError(internal, request())).toBe(internal);
    const plain = new Error('boom');
    expect(bodyParserError(plain, request())).toBe(plain);
  });
});
