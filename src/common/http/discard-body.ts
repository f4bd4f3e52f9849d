import type { Request } from 'express';
import { awaitingContinue } from './expect-continue.js';

/**
 * After a refusal, how much more of the body we read (and discard) so that the client, still
 * sending, reads our error instead of a broken connection. Past this the connection is closed.
 */
export const MAX_DRAIN_BYTES = 4 * 1024 * 1024;

/** How long we wait for the rest of a refused body before answering anyway: a stalled client does not hold the answer (and the socket) until Node's 5-minute request timeout. */
const MAX_DRAIN_MS = 30_000;

/**
 * Reads and throws away the rest of a request body that will not be used (nothing is kept), then
 * resolves: the caller answers. Most HTTP/1.1 clients read the answer only once they have sent the
 * whole body, so answering in the middle of it makes them report a broken connection instead of
 * our error. Resolves with the number of bytes it read. But only so much: past `maxBytes` (or after `maxMs`), it stops reading, marks the answer
 * `Connection: close` — Node closes the socket once the answer is out, so nothing hangs — and
 * resolves at once.
 */
export function discardBody(req: Request, maxBytes = MAX_DRAIN_BYTES, maxMs = MAX_DRAIN_MS): Promise<number> {
  // Complete is not enough: a body received whole may still wait in the stream's buffer, unread
  // (and uncounted).
  if (req.readableEnded || req.destroyed) return Promise.resolve(0);
  // A client waiting for "100 Continue" has sent nothing: answer now (the connection is closed after).
  if (awaitingContinue(req)) return Promise.resolve(0);
  return new Promise((resolve) => {
    let drained = 0;
    const finish = () => {
      clearTimeout(timer);
      req.off('data', count);
      req.off('end', finish);
      req.off('close', finish);
      resolve(drained);
    };
    const giveUp = () => {
      req.pause();
      closeAfterAnswer(req);
      finish();
    };
    const count = (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > maxBytes) giveUp();
    };
    const timer = setTimeout(giveUp, maxMs);
    timer.unref();
    req.on('data', count);
    req.once('end', finish);
    req.once('close', finish);
    req.resume();
  });
}

/**
 * For a refusal decided before any of the body was read (the sync push's 401, an upload to a family
 * at its storage limit): a body declared longer than MAX_DRAIN_BYTES is not read at all, and the
 * connection is closed after the answer; a shorter or undeclared one goes through discardBody first.
 */
export async function discardUnreadBody(req: Request): Promise<void> {
  if (Number(req.headers['content-length']) > MAX_DRAIN_BYTES) closeAfterAnswer(req);
  else await discardBody(req);
}

/** Node closes the connection once this answer is sent: for a body we stopped reading. */
export function closeAfterAnswer(req: Request): void {
  if (req.res && !req.res.headersSent) req.res.setHeader('Connection', 'close');
}
