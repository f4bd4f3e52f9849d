import type { Request } from 'express';
import { DomainError, ErrorCode } from '../errors/domain-error.js';

/** What body-parser (raw-body, zlib) passes to next(): an http-errors error with a status and, mostly, a `type`. */
interface ParserError {
  status?: number;
  statusCode?: number;
  type?: string;
  limit?: number;
}

/** body-parser's `type` of the error its `verify` throws for a body that is not UTF-8 (JsonBodyMiddleware). */
export const NOT_UTF8 = 'entity.not.utf8';

/** The Content-Encodings the JSON parser decodes (body-parser's own list). */
export const SUPPORTED_CONTENT_ENCODINGS = ['gzip', 'deflate', 'br'] as const;

/**
 * A JSON body parser's error as a DomainError, so it has the code and wording of every other error
 * (the raw texts — "unexpected end of file", "Unexpected token } in JSON at position 5" — say
 * nothing useful to a client). A 5xx (a stream misused by our own code) is left as it is: the
 * global filter logs it and answers a bare 500.
 */
export function bodyParserError(error: unknown, req: Request): unknown {
  const parserError = (error ?? {}) as ParserError;
  const status = parserError.status ?? parserError.statusCode;
  if (typeof status !== 'number' || status >= 500) return error;
  const encoding = contentEncoding(req);
  switch (parserError.type) {
    case 'entity.too.large': {
      const limit = parserError.limit;
      return new DomainError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `Request body is larger than the limit for ${pathOf(req)}${limit ? ` (${limit} bytes)` : ''}`,
        limit ? { max_bytes: limit } : undefined,
      );
    }
    case 'entity.parse.failed':
      return new DomainError(ErrorCode.MALFORMED_REQUEST, 'Request body is not valid JSON');
    case NOT_UTF8:
      return new DomainError(ErrorCode.MALFORMED_REQUEST, 'Request body is not valid UTF-8: send JSON text encoded as UTF-8');
    case 'encoding.unsupported':
      return new DomainError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        `Unsupported Content-Encoding: send the body uncompressed or as ${SUPPORTED_CONTENT_ENCODINGS.join(', ')}`,
      );
    case 'charset.unsupported':
      return new DomainError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'Unsupported request body charset: send JSON as UTF-8');
    case 'request.aborted':
      return new DomainError(ErrorCode.MALFORMED_REQUEST, 'The request body was interrupted');
    case 'request.size.invalid':
      return new DomainError(ErrorCode.MALFORMED_REQUEST, 'The request body is shorter or longer than its Content-Length');
    default:
      // No type: a decompression error (zlib's "unexpected end of file", "incorrect header check");
      // the encoding is one of the supported ones, or the parser would have refused it (415).
      if (encoding !== 'identity') {
        return new DomainError(ErrorCode.MALFORMED_REQUEST, `Request body is not valid ${encoding} data (Content-Encoding: ${encoding})`);
      }
      return new DomainError(ErrorCode.MALFORMED_REQUEST, 'Request body could not be read');
  }
}

function contentEncoding(req: Request): string {
  return (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
}

/** The request's path, without the query (middleware mounted on a wildcard sees `req.path` as `/`). */
export function pathOf(req: Request): string {
  return req.originalUrl.split('?')[0];
}
