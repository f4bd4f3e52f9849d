import type { Response } from 'express';

/**
 * Aborts when the client hangs up before the answer is out (the connection closed under a
 * response not yet finished): work done for it from then on is wasted.
 */
export function hangUpSignal(res: Response): AbortSignal {
  const controller = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) controller.abort();
  };
  if (res.socket?.destroyed) controller.abort();
  else res.once('close', onClose);
  return controller.signal;
}
