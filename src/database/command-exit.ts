import { stopEmbeddedDatabase } from './database-url.js';

let stopping = false;

/** The signals that stop a command (exitCommandOnSignals): Ctrl-C, a service manager's stop, the terminal closing. */
export const COMMAND_STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Whether the command is on its way out (a signal arrived, or exitCommand was called). */
export function commandStopping(): boolean {
  return stopping;
}

/**
 * How a command-line process (the admin CLI, the migration CLI) ends: the embedded PostgreSQL it may
 * have started runs in its own process group and would outlive node, so it is stopped first.
 */
export async function exitCommand(code: number): Promise<never> {
  stopping = true;
  await stopEmbeddedDatabase().catch(() => undefined);
  process.exit(code);
}

/**
 * SIGINT (Ctrl-C), SIGTERM or SIGHUP (the terminal or ssh session closed) while a command runs: the
 * embedded PostgreSQL is stopped cleanly, which rolls a migration or seed transaction back, and the
 * process exits 130 — whatever ends it from then on (the command failing as its database stops,
 * through process.exit(1) or an uncaught error, before the stop is done). A repeated signal is
 * ignored, as the server does: dying midway would leave the database running until the next start
 * found it stale.
 */
export function exitCommandOnSignals(): void {
  for (const signal of COMMAND_STOP_SIGNALS) {
    process.on(signal, () => {
      if (stopping) return;
      console.error(`\ninterrupted (${signal})`);
      process.on('exit', () => (process.exitCode = 130));
      void exitCommand(130);
    });
  }
}
