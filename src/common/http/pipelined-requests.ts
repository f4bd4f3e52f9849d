import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { DomainError, ErrorCode } from '../errors/domain-error.js';
import { pathOf } from './body-errors.js';

/** The "sync now" event stream's route as Express matches it: case-insensitively, with or without a trailing slash. */
const EVENT_STREAM_PATH = /^\/api\/v1\/sync\/events\/?$/i;

/** Per connection, the answer of the request most recently handed on to the app. */
const lastAnswerOnConnection = new WeakMap<Socket, Response>();
/** Per connection, the answer of its event stream, while it is one of its requests. */
const eventStreamOnConnection = new WeakMap<Socket, Response>();

/**
 * Requests pipelined on one connection are carried out one at a time, in order. Node hands every
 * request of a socket read to the app at once and only holds their answers, in order, behind the
 * first; so requests pipelined behind an answer that takes long to leave were each carried out at once
 * and their answers held, full pulls' bodies included (tens of MB for a large family; found in review):
 *
 * - Behind a `GET /api/v1/sync/events`, whose answer lasts as long as its access token (15 min) and
 *   whose small writes never wait (out of the send timeout's reach; 60 pulls of a 23 MB family took
 *   the instance from 260 MB to 700 MB, and every pooled connection), a request is refused: 400
 *   MALFORMED_REQUEST, its answer sent once the stream has ended, then the connection closed. An
 *   EventSource gives the stream a connection of its own; nothing sends another request on it.
 * - Behind any other answer (a download its client reads slowly), a request waits until that answer
 *   has gone out (`'finish'`), holding only its head: its body, if any, stays unread in the socket.
 *   One whose connection closes while it waits is not carried out at all: no one is left to answer.
 */
export function carryOutPipelinedRequestsInTurn(req: Request, res: Response, next: NextFunction): void {
  const socket = req.socket;
  const stream = eventStreamOnConnection.get(socket);
  if (stream && !stream.writableFinished) {
    res.setHeader('Connection', 'close');
    next(new DomainError(ErrorCode.MALFORMED_REQUEST, 'A request sent on the connection of an event stream, behind it, is not carried out: send it on another connection'));
    return;
  }
  if (req.method === 'GET' && EVENT_STREAM_PATH.test(pathOf(req))) {
    eventStreamOnConnection.set(socket, res);
    res.once('close', () => {
      if (eventStreamOnConnection.get(socket) === res) eventStreamOnConnection.delete(socket);
    });
  }
  const ahead = lastAnswerOnConnection.get(socket);
  lastAnswerOnConnection.set(socket, res);
  if (!ahead || ahead.writableFinished) {
    next();
    return;
  }
  const turn = () => {
    ahead.off('finish', turn);
    ahead.off('close', turn);
    if (!socket.destroyed) next();
  };
  ahead.on('finish', turn);
  ahead.on('close', turn);
}
