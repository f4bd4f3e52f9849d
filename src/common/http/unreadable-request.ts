import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { NextFunction, Request, Response } from 'express';
import type { Logger as Pino } from 'pino';
import { DomainError, ErrorCode } from '../errors/domain-error.js';

/** Node's own status for what its HTTP parser refuses (the rest: 400). */
const STATUS_BY_PARSER_ERROR: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

function errorBody(status: number, message: string): string {
  return JSON.stringify({ statusCode: status, error: STATUS_CODES[status], message, details: { code: ErrorCode.MALFORMED_REQUEST } });
}

/**
 * What Node answers itself, before any request reaches the app, in the one error shape: a request
 * its HTTP parser refuses (bad chunked framing, a malformed or doubled Content-Length, headers over
 * 16 KB: 431, a request not arrived within REQUEST_TIMEOUT_SECONDS: 408) and an `Expect` other than
 * 100-continue (417). Node's defaults answered these with an empty body, no `details.code` and no
 * request id.
 */
export function answerUnreadableRequestsInShape(server: Server, logger: Pino): void {
  // An HTTP/1.1 request without Host: refused by refuseMissingHost instead, in the app (Node's own 400
  // had an empty body, no request id and no log line).
  (server as Server & { requireHostHeader: boolean }).requireHostHeader = false;
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
    // Bytes after a request sent with `Connection: close`: no request (RFC 9112 §9.6: not processed).
    // The answers in flight go out, and Node closes the connection after the one that asked for it;
    // the rest is not read. Answered here, the 400 for those bytes went out as the answer to the
    // request in flight, which was carried out all the same (a PATCH applied, its client told 400).
    if (error.code === 'HPE_CLOSED_CONNECTION' && inFlight && !inFlight.writableFinished) {
      socket.pause();
      return;
    }
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = STATUS_BY_PARSER_ERROR[error.code ?? ''] ?? 400;
    // Bytes that cannot be parsed after a whole request (pipelined on a kept-alive connection): they are
    // a request of their own, refused once the answers in flight have gone out, in order. Answered at
    // once, the 400 went out as the answer to the request in flight, which was carried out all the same.
    // When they broke the body of a request whose head had arrived (pipelined behind the one in flight),
    // that request is the one refused, once the answers before it have gone out: its body never ends, so
    // waiting for its own answer held the connection open, the 400 unsent (over 60 s in the test; found in review).
    const broken = requestBeingRead(socket);
    if (inFlight?.req.complete && inFlight.req !== broken) {
      socket.pause();
      afterAnswersBefore(socket, broken, () => {
        const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
        answer(socket, error, status, current?.writableFinished ? undefined : (current ?? undefined));
      });
      return;
    }
    answer(socket, error, status, inFlight);
  });
  /** The 400 (408, 431) for what could not be read, as the answer to the request on the connection if there is one. */
  const answer = (socket: Duplex, error: NodeJS.ErrnoException, status: number, inFlight: ServerResponse | undefined) => {
    // As Node's default: no answer once one has started on the connection.
    if (inFlight?.headersSent) return void socket.destroy();
    // A request already routed (its body timed out) keeps its id, and its own log line reports it
    // (requestLogging, which reads the error the socket is destroyed with, as Node's default does).
    const routedId = inFlight?.getHeader('x-request-id');
    const reqId = typeof routedId === 'string' ? routedId : randomUUID();
    // The client reads this as the answer to the request it is waiting for: no body if that is a HEAD.
    refuse(socket, error, status, reqId, inFlight?.req.method === 'HEAD', !inFlight);
  };
  const refuse = (socket: Duplex, error: NodeJS.ErrnoException, status: number, reqId: string, toHead: boolean, logged = true) => {
    if (socket.destroyed || !socket.writable) return void socket.destroy();
    const body = errorBody(status, status === 408 ? 'The request did not arrive in time' : 'The request could not be read as HTTP');
    if (logged) logger.warn({ reqId, status, parserError: error.code }, 'request refused before routing');
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${reqId}\r\nConnection: close\r\n\r\n${toHead ? '' : body}`,
      () => socket.destroy(error),
    );
  };
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const reqId = randomUUID();
    logger.warn({ reqId, method: req.method, status: 417 }, 'request refused before routing: unsupported Expect');
    // The client may be sending the body already: do not read it as a next request.
    const body = errorBody(417, 'Only "Expect: 100-continue" is supported');
    res.writeHead(417, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'x-request-id': reqId, Connection: 'close' });
    res.end(body);
  });
}

/**
 * The 400 RFC 9112 (§3.2) asks for an HTTP/1.1 request without a Host header, as Node gave it (then the
 * connection is closed), but in the one error shape, with its request id and its log line: installed
 * right after requestLogging, while answerUnreadableRequestsInShape turns Node's own check off.
 */
export function refuseMissingHost(req: Request, res: Response, next: NextFunction): void {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1 || req.headers.host !== undefined) return next();
  res.setHeader('Connection', 'close');
  next(new DomainError(ErrorCode.MALFORMED_REQUEST, 'An HTTP/1.1 request must have a Host header'));
}

/** The request whose head has arrived and whose body is still being read on the connection, if any. */
function requestBeingRead(socket: Duplex): IncomingMessage | undefined {
  const incoming = (socket as Duplex & { parser?: { incoming?: IncomingMessage | null } | null }).parser?.incoming;
  return incoming && !incoming.complete ? incoming : undefined;
}

/**
 * Runs `then` once every answer queued on the connection before `request`'s has gone out (all of
 * them without a `request`; `request`'s too if it is already under way, not waiting for its body),
 * or the connection has closed.
 */
function afterAnswersBefore(socket: Duplex, request: IncomingMessage | undefined, then: () => void): void {
  const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.destroyed || !current || current.writableFinished || (current.req === request && !current.headersSent)) return then();
  // After 'close' Node has detached the answer and handed the connection to the next one queued, if any.
  current.once('close', () => setImmediate(() => afterAnswersBefore(socket, request, then)));
}
