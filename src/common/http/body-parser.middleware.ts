import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { ModuleRef } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { httpConfig } from '../../config/configuration.js';
import { DomainError, ErrorCode } from '../errors/domain-error.js';
import { invalidField } from '../errors/invalid-request.js';
import { unauthenticated } from '../errors/unauthenticated.js';
import { bodyParserError, NOT_UTF8, pathOf } from './body-errors.js';
import { closeAfterAnswer, discardBody, discardUnreadBody } from './discard-body.js';
import { findRefusedValue } from './refused-body-value.js';
import { isUuid } from './uuid.js';

/** The sync push route as Express matches it: case-insensitively, with or without a trailing slash. */
const SYNC_PUSH_PATH = /^\/api\/v1\/sync\/?$/i;

/** The one route whose body is not JSON (multipart, read by the upload itself). */
const UPLOAD_PATH = /^\/api\/v1\/upload\/?$/i;

/** A body is present and its Content-Type is not JSON (type-is: `false`; no body at all: `null`). */
function hasNonJsonBody(req: Request): boolean {
  return req.is('application/json') === false;
}

/**
 * The charsets a JSON body may be sent in (RFC 8259 allowed UTF-8, UTF-16 and UTF-32). body-parser
 * takes any charset whose name starts with `utf-` that iconv-lite knows, UTF-7 too — the charset
 * of filter evasion (`+ADw-` is `<`), decoded and stored though the README refuses it (found by
 * review): refused 415 here, once the body is read (its charset is body-parser's reading of the header).
 */
const JSON_CHARSETS: ReadonlySet<string> = new Set(['utf-8', 'utf-16', 'utf-16le', 'utf-16be', 'utf-32', 'utf-32le', 'utf-32be']);

/**
 * A JSON body sent as UTF-8 (the only charset apps send, and RFC 8259's) must be UTF-8: decoded as
 * it was, every byte sequence that is not became U+FFFD without a word, and the push or PATCH answered
 * 200 with that stored in place of the text the client meant — a notes field from a client writing
 * Latin-1 (`é` as the byte E9) stored as `�` and synced to every device (found by property testing).
 * Refused instead, before it is parsed; UTF-16 and UTF-32 are left to body-parser's decoding, and any
 * other charset is refused (JSON_CHARSETS).
 */
function verifyText(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  if (!JSON_CHARSETS.has(encoding)) throw Object.assign(new Error('Unsupported charset'), { type: 'charset.unsupported' });
  if (encoding === 'utf-8' && !isUtf8(body)) throw Object.assign(new Error('Request body is not valid UTF-8'), { type: NOT_UTF8 });
}

/** The token passport-jwt reads: `Authorization: Bearer <token>`, scheme in any case. */
function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^\s*(\S+)\s+(\S+)/);
  return match && match[1].toLowerCase() === 'bearer' ? match[2] : undefined;
}

/** The limit error as body-parser words it, for the same DomainError (message, details.max_bytes). */
function tooLarge(limit: number, req: Request): unknown {
  return bodyParserError({ status: 413, type: 'entity.too.large', limit }, req);
}

/**
 * Runs body-parser's JSON parser `parser` (whose limit is `limit`) on `req`, then `done` with nothing
 * or our DomainError, so that a refused body is never read to its end whatever its length:
 *
 * - a JSON body whose declared Content-Length is over the limit is refused at once, unread, and the
 *   connection is closed after the answer (raw-body refuses it too, but only after body-parser has
 *   read and thrown away all of it: a client declaring 1 TB held the connection until Node's
 *   request timeout);
 * - a body that goes over the limit while it arrives (chunked, or compressed: the limit counts the
 *   decoded bytes), or a compressed body that does not decode, is noticed here from the same chunks
 *   the parser counts, and the error is answered after `discardBody` (at most MAX_DRAIN_BYTES more,
 *   MAX_DRAIN_MS, then `Connection: close`) instead of after body-parser's unbounded read; the
 *   parser's own callback, which comes only once the request has ended, is then ignored;
 * - any other parser error is answered after the same bounded drain (a 415 leaves the body unread,
 *   and Node would otherwise read all of it after the answer, to keep the connection).
 */
function readJson(parser: RequestHandler, limit: number, req: Request, res: Response, done: (error?: unknown) => void): void {
  // Declared length = body length only when the body is not compressed (the limit counts decoded
  // bytes; a compressed body is held to it by the count below).
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (Number(req.headers['content-length']) > limit && encoding === 'identity' && req.is('application/json')) {
    closeAfterAnswer(req);
    done(tooLarge(limit, req));
    return;
  }
  let settled = false;
  const stopCounting: Array<() => void> = [];
  const settle = (error?: unknown) => {
    if (settled) return;
    settled = true;
    for (const stop of stopCounting) stop();
    if (!error) return done();
    void discardBody(req).then(() => done(error));
  };
  // The parser starts reading synchronously: `req` itself, or a decompression stream it pipes `req` into.
  const dataListeners = req.listenerCount('data');
  const decoders: Readable[] = [];
  const pipe = req.pipe;
  const capture = req as unknown as { pipe: (destination: NodeJS.WritableStream, options?: { end?: boolean }) => NodeJS.WritableStream };
  capture.pipe = function (this: Request, destination: NodeJS.WritableStream, options?: { end?: boolean }) {
    if (destination instanceof Readable) decoders.push(destination);
    return pipe.call(this, destination, options);
  };
  try {
    parser(req, res, (error?: unknown) => settle(error ? bodyParserError(error, req) : undefined));
  } finally {
    delete (capture as { pipe?: unknown }).pipe;
  }
  // Not read at all (not JSON, no body) or already answered: nothing to watch.
  if (settled || req.listenerCount('data') === dataListeners) return;
  // The bytes the parser counts against the limit: the decoded ones of a compressed body. Our
  // listener comes after the parser's, so by the time it sees the chunk that crosses the limit the
  // parser has refused it too.
  const decoded: Readable = decoders[0] ?? req;
  let received = 0;
  const count = (chunk: Buffer) => {
    received += chunk.length;
    if (received > limit) settle(tooLarge(limit, req));
  };
  // A body that does not decode (the parser's callback would wait for the end of the request too).
  const undecodable = () => settle(bodyParserError({ status: 400 }, req));
  decoded.on('data', count);
  stopCounting.push(() => decoded.off('data', count));
  if (decoded !== req) {
    decoded.on('error', undecodable);
    // Stays on: a destroyed decoder may still report an error, with nobody else listening.
    stopCounting.push(() => decoded.off('error', undecodable).on('error', () => undefined));
  }
}

/**
 * 415 for a body that is not JSON: not parsed, so not silently taken for an empty object (a PATCH
 * of XML answered 200, changing nothing). Read and thrown away up to MAX_DRAIN_BYTES first, like
 * any refused body. A body that turns out empty is no body (Node's client sends a POST without one
 * as an empty chunked body, with no Content-Type): the request goes on.
 */
function refuseNonJson(req: Request, next: NextFunction): void {
  void discardBody(req).then((drained) => {
    if (drained === 0 && req.complete) return next();
    next(new DomainError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'Send the request body as JSON, with Content-Type: application/json'));
  });
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
 *
 * No refused body is read without bound (body-parser reads and throws away the whole rest of a body
 * it refuses, however long, before it answers): see readJson.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  private readonly defaultParser: RequestHandler;
  private readonly syncParser: RequestHandler;
  private readonly defaultLimit: number;
  private readonly syncLimit: number;
  private jwtService?: JwtService;

  constructor(
    @Inject(httpConfig.KEY) http: ConfigType<typeof httpConfig>,
    private readonly moduleRef: ModuleRef,
  ) {
    this.defaultLimit = http.bodyLimitBytes;
    this.syncLimit = http.syncBodyLimitBytes;
    this.defaultParser = express.json({ limit: this.defaultLimit, verify: verifyText });
    this.syncParser = express.json({ limit: this.syncLimit, verify: verifyText });
  }

  use(req: Request, res: Response, next: NextFunction): void {
    if (req.method === 'POST' && SYNC_PUSH_PATH.test(pathOf(req))) {
      this.syncPush(req, res, next);
      return;
    }
    if (hasNonJsonBody(req) && !UPLOAD_PATH.test(pathOf(req))) return refuseNonJson(req, next);
    readJson(this.defaultParser, this.defaultLimit, req, res, (error?: unknown) => {
      if (error) return next(error);
      const refused = findRefusedValue(req.body);
      next(refused && invalidField(refused.field, refused.message));
    });
  }

  /** Sync pushes check text per record in their own validator (422 naming table, id and field). */
  private syncPush(req: Request, res: Response, next: NextFunction): void {
    if (!this.hasValidAccessToken(req)) {
      const refused = unauthenticated();
      // Nothing of the body is parsed or kept. A declared length past the drain bound is not read
      // at all: the answer goes out now and the connection is closed after it.
      void discardUnreadBody(req).then(() => next(refused));
      return;
    }
    if (hasNonJsonBody(req)) return refuseNonJson(req, next);
    readJson(this.syncParser, this.syncLimit, req, res, next);
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
