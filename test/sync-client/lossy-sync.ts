import { LostResponseError, SyncHttpError, type Device } from './device.js';

/** The app closed between its pull and its push: the pull is applied, nothing is pushed. */
export class AppClosedError extends Error {}

/** Shares of a randomized run's sync attempts: answers lost on the way, a user busy meanwhile, the app closed. */
export interface LossyNetwork {
  /** The pull's answer, or the push's acknowledgement, lost: each half of this. */
  lost: number;
  /** The user changes something while the pull's answer is applied, or while the push is on the way: each half of this. */
  busy: number;
  /** The app closed between pull and push. */
  closed: number;
}

/**
 * Syncs `phone` until a sync goes through, each attempt drawing from `random` (two numbers, so a seed
 * replays it) what goes wrong: a lost answer, `meanwhile` run mid-sync, the app closed. Those, and a
 * 409 (another phone pushed first), are retried; `recover` may handle another error (true: retry).
 * Without `random`, plain syncs until one goes through.
 */
export async function syncThroughLoss(
  phone: Device,
  { random, network, meanwhile, recover }: { random?: () => number; network: LossyNetwork; meanwhile?: () => Promise<void>; recover?: (error: unknown) => Promise<boolean> },
): Promise<void> {
  const { lost, busy, closed } = network;
  for (let attempt = 1; attempt <= 40; attempt++) {
    const lose = random ? random() : 1;
    const during = random ? random() : 1;
    try {
      await phone.sync({
        losePullResponse: lose < lost / 2,
        losePushResponse: lose >= lost / 2 && lose < lost,
        afterPullResponse: during < busy / 2 ? meanwhile : undefined,
        beforePush:
          during >= busy / 2 && during < busy
            ? meanwhile
            : during >= busy && during < busy + closed
              ? async () => {
                  throw new AppClosedError();
                }
              : undefined,
      });
      return;
    } catch (error) {
      if (error instanceof LostResponseError || error instanceof AppClosedError || (error instanceof SyncHttpError && error.status === 409)) continue;
      if (await recover?.(error)) continue;
      throw error;
    }
  }
  throw new Error('sync did not go through in 40 attempts');
}
