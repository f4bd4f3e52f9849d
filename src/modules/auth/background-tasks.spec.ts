import { BackgroundTasks } from './background-tasks.js';

/** A task that runs until `finish` is called. */
function gate() {
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let started = false;
  return { task: async () => { started = true; await finished; }, finish, started: () => started };
}

describe('BackgroundTasks', () => {
  it('starts a task after the caller\'s turn, never inside run()', async () => {
    const tasks = new BackgroundTasks(10, () => undefined);
    const work = gate();
    expect(tasks.run(work.task)).toBe(true);
    expect(work.started()).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(work.started()).toBe(true);
    work.finish();
    await tasks.idle();
    expect(tasks.size).toBe(0);
  });

  it('refuses new work while `limit` tasks run, and takes it again once one has finished', async () => {
    const tasks = new BackgroundTasks(2, () => undefined);
    const [a, b, c] = [gate(), gate(), gate()];
    expect([tasks.run(a.task), tasks.run(b.task), tasks.run(c.task)]).toEqual([true, true, false]);
    a.finish();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(tasks.run(c.task)).toBe(true);
    b.finish();
    c.finish();
    await tasks.idle();
  });

  it('idle() waits for every running task, also one started while it waits; failures go to onError', async () => {
    const errors: unknown[] = [];
    const tasks = new BackgroundTasks(10, (error) => errors.push(error));
    const first = gate();
    const second = gate();
    tasks.run(async () => {
      await first.task();
      tasks.run(second.task);
      throw new Error('boom');
    });
    let idle = false;
    const waiting = tasks.idle().then(() => (idle = true));
    first.finish();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(idle).toBe(false);
    second.finish();
    await waiting;
    expect(errors).toEqual([new Error('boom')]);
  });
});
