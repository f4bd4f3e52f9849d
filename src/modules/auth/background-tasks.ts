/**
 * Work a request starts and does not wait for, kept track of so that shutdown can wait for it and
 * tests can tell when it is done. A task starts on the next turn of the event loop (after the answer
 * that started it has been written), at most `limit` run at once (beyond, `run` refuses), and a
 * task's failure goes to `onError`, never to the request.
 */
export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly limit: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Starts `task` later; false (and nothing started) when `limit` tasks are running. */
  run(task: () => Promise<void>): boolean {
    if (this.running.size >= this.limit) return false;
    const done: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(task)
      .catch((error: unknown) => this.onError(error))
      .finally(() => this.running.delete(done));
    this.running.add(done);
    return true;
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves once no task is running: those started so far, and any started meanwhile. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }
}
