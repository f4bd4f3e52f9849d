import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { DomainError, ErrorCode } from '../errors/domain-error.js';
import { pathOf } from './body-errors.js';

/** The "sync now" event stream's route as Express matches it: case-insensitively, with or without a trailing slash. */
const EVENT_STREAM_PATH = /^\/api\/v1\/sync\/events\/?$/i;

/** The connections whose current request is for the event stream, and that request's answer. */
const eventStreams = new WeakMap<Socket, Response>();

/**
 * A request pipelined on a connection behind a request for the event stream is not carried out:
 * refused 400 MALFORMED_REQUEST, its answer sent once the stream has ended, then the connection closed.
 * Node hands every request it parses to the app at once, pipelined or not, and holds each answer
 * until the ones ahead of it on the connection have gone out; the stream's lasts as long as its
 * access token (15 min), and its small writes never wait, so the send timeout, which frees an
 * answer its client does not take, never came: full pulls pipelined behind a stream were each
 * carried out and their bodies (tens of MB for a large family) held for that long, as many as
 * a single read of the socket held (60 pulls of a 23 MB family took the instance from 260 MB to
 * 700 MB, and every pooled connection; found in review). An EventSource gives the stream a
 * connection of its own; nothing sends another request on it.
 */
export function refuseRequestsBehindEventStreams(req: Request, res: Response, next: NextFunction): void {
  const socket = req.socket;
  const stream = eventStreams.get(socket);
  if (stream && stream !== res && !stream.writableFinished) {
    res.setHeader('Connection', 'close');
    next(new DomainError(ErrorCode.MALFORMED_REQUEST, 'A request sent on the connection of an event stream, behind it, is not carried out: send it on another connection'));
    return;
  }
  if (req.method === 'GET' && EVENT_STREAM_PATH.test(pathOf(req))) {
    eventStreams.set(socket, res);
    res.once('close', () => {
      if (eventStreams.get(socket) === res) eventStreams.delete(socket);
    });
  }
  next();
}
