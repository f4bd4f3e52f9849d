import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';

/** Per connection, the answer of the request most recently handed on to the app. */
const lastAnswerOnConnection = new WeakMap<Socket, Response>();

/**
 * Requests pipelined on one connection are carried out one at a time, in order: each waits until the
 * answer of the one ahead of it has gone out. Node hands every request of a socket read to the app at
 * once and only holds their answers, in order, behind the first; so requests pipelined behind an answer
 * that takes long to leave (a download its client reads slowly) were each carried out at once and their
 * answers held, the full pulls' bodies included (tens of MB for a large family; found in review, as
 * behind an event stream, which refuseRequestsBehindEventStreams answers). Waiting, a request holds only
 * its head: its body, if any, stays unread in the socket. One whose connection closes while it waits is
 * not carried out at all: no one is left to answer.
 */
export function carryOutPipelinedRequestsInTurn(req: Request, res: Response, next: NextFunction): void {
  const socket = req.socket;
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
