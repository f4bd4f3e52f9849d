import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';

/** Answers this middleware cut, for the request's log line (requestLogging). */
const cutAnswers = new WeakSet<Response>();

/** Whether `res`'s connection was closed by the send timeout (its client had stopped reading). */
export function cutBySendTimeout(res: Response): boolean {
  return cutAnswers.has(res);
}

/**
 * What nginx calls `send_timeout`, for a server that may run without a proxy in front: a response
 * whose client has stopped taking it is cut. Taking means the kernel accepting more of the pending
 * write, which happens once the client has drained part of the socket buffers: a client reading
 * slower than that per `ms` is cut too (ARCHITECTURE, request flow). Once a write has to wait for
 * the client (`write()` returned false, or the whole answer was handed over with `end()` and is
 * still going out) and the connection then stays silent for `ms` in both directions (checked once
 * more if the write progressed since it was queued), Node's socket timeout fires and the answer is
 * destroyed with its socket (marked first, so that its log line says why: cutBySendTimeout). That
 * frees what the answer held: a pull's whole body (tens of MB of a large family,
 * built by PostgreSQL and written in one piece), a download's open file and its stream. Without
 * it a client with a valid token could open connections, ask for its family's full pull on each
 * and never read, holding that memory on the server for good.
 *
 * The timer is not armed while the server itself is working (a push waiting for the family lock, a
 * full pull waiting for its turn): only while an answer waits for the client. Nor for the "sync now"
 * event stream between its heartbeats, whose small writes never wait. After the answer has gone
 * out, Node sets the connection's keep-alive timeout in place of this one.
 */
export function sendTimeout(ms: number) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const awaitClient = () => {
      if (!res.writableFinished) res.socket?.setTimeout(ms);
    };
    const write = res.write;
    res.write = function (this: Response, ...args: Parameters<Response['write']>) {
      const taken = (write as (...a: unknown[]) => boolean).apply(this, args);
      if (!taken) awaitClient();
      return taken;
    } as Response['write'];
    const end = res.end;
    res.end = function (this: Response, ...args: Parameters<Response['end']>) {
      const result = (end as (...a: unknown[]) => Response).apply(this, args);
      awaitClient();
      return result;
    } as Response['end'];
    // Fired by Node when the armed timer runs out while this answer has the connection. Listening
    // stops Node from destroying the socket itself: done here, once the answer is marked for the log.
    res.once('timeout', () => {
      cutAnswers.add(res);
      res.destroy();
    });
    // The client took what was waiting: the server is the one to write next, however long that takes.
    res.on('drain', () => {
      if (!res.writableEnded) res.socket?.setTimeout(0);
    });
    // A pipelined request (sent before the answer ahead of it had gone out): its answer gets the
    // connection once that one has, and Node sets no keep-alive timeout then, so the timer the answer
    // ahead armed would still run while the server works on this one, and cut it (found by review).
    // Disarmed; what this answer wrote meanwhile goes out right after ('socket' comes just before
    // Node flushes it): if it has to wait for the client, armed again.
    res.once('socket', (socket: Socket) => {
      socket.setTimeout(0);
      process.nextTick(() => {
        if (res.writableEnded || res.writableNeedDrain) awaitClient();
      });
    });
    next();
  };
}
