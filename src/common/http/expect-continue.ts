import type { IncomingMessage, Server, ServerResponse } from 'node:http';

const AWAITING_CONTINUE = Symbol('awaiting 100-continue');

type Awaiting = IncomingMessage & { [AWAITING_CONTINUE]?: boolean };

/**
 * `Expect: 100-continue` answered by the app, not by Node. Node's default sends "100 Continue" at
 * once, before any check, so a client announcing a 30 MB upload (curl does for any body over
 * 1 MiB) starts sending it even though the declared size, a missing token or a foreign id gets it
 * refused. Here the 100 goes out only when the app starts reading the body, that is once every
 * check before the body has passed. An answer given before that closes the connection after it:
 * the client never sent the body, so the connection cannot carry a next request reliably.
 */
export function answerExpectContinueFromApp(server: Server): void {
  server.on('checkContinue', (req: Awaiting, res: ServerResponse) => {
    req[AWAITING_CONTINUE] = true;
    // Flowing-mode reads (pipe, on('data'), resume) emit 'resume': every body reader of the app.
    req.once('resume', () => {
      if (!req[AWAITING_CONTINUE]) return;
      req[AWAITING_CONTINUE] = false;
      if (!res.headersSent) res.writeContinue();
    });
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
      if (req[AWAITING_CONTINUE]) {
        req[AWAITING_CONTINUE] = false;
        this.setHeader('Connection', 'close');
      }
      return writeHead.apply(this, args);
    } as ServerResponse['writeHead'];
    server.emit('request', req, res);
  });
}

/** The client still waits for "100 Continue": it has not sent the body and will not unless told to. */
export function awaitingContinue(req: IncomingMessage): boolean {
  return (req as Awaiting)[AWAITING_CONTINUE] === true;
}
