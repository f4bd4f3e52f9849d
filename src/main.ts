/**
 * The server's entry point: signal handlers first, then the application. Loading the application
 * (Nest, TypeORM, every module) takes a second or more in ESM, longer on a busy machine, and static
 * imports are all loaded before a module's first line runs: handlers installed by the application
 * itself left that first second to the default action of SIGTERM (exit 143, nothing logged, though
 * DEPLOYMENT.md promises a logged stop and exit 0 at any time during start-up). So only Node's
 * globals are used here, and the application is imported dynamically once the handlers are in place.
 */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const; // SIGHUP: the terminal was closed

let server: typeof import('./server.js') | undefined;
let exiting = false;

for (const signal of SIGNALS) {
  process.on(signal, () => {
    if (server) server.handleSignal(signal);
    else if (!exiting) void exitBeforeStart(signal);
  });
}

// Start-up progress at debug level, in the JSON the logger writes (only Node's globals here): from this
// line on, a signal is handled (a test waits for it rather than guessing how long Node takes to get here).
if (process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace') {
  const line = { level: 20, time: Date.now(), pid: process.pid, context: 'Bootstrap', msg: 'signal handlers installed; loading the application' };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** A signal while the application is still loading: nothing has started yet (loading starts nothing), so log and exit. */
async function exitBeforeStart(signal: string): Promise<void> {
  exiting = true;
  const { createPino } = await import('./common/logging/app-logger.js');
  createPino('info').info({ context: 'Bootstrap' }, `${signal} received during start-up: stopping`);
  process.exit(0);
}

/**
 * The configuration first, then the application: a bad value is reported (exit 1) before the
 * application's modules are loaded (config/startup-configuration.ts).
 */
async function start(): Promise<void> {
  const { configurationRefused } = await import('./config/startup-configuration.js');
  if (exiting) return;
  if (configurationRefused()) {
    exiting = true;
    process.exit(1);
  }
  const loaded = await import('./server.js');
  if (exiting) return;
  server = loaded;
  loaded.startServer();
}

start().then(
  () => undefined,
  async (error: unknown) => {
    exiting = true;
    const { createPino } = await import('./common/logging/app-logger.js');
    createPino('info').fatal({ context: 'Bootstrap', err: error }, `HemoDay failed to start: ${String((error as Error | undefined)?.message ?? error)}`);
    process.exit(1);
  },
);
