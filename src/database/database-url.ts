import { Logger } from '@nestjs/common';
import { EmbeddedPostgres } from './embedded-postgres.js';

export interface DatabaseSettings {
  url?: string;
  embeddedPort: number;
  embeddedDataDir: string;
}

let embedded: EmbeddedPostgres | undefined;
let embeddedUrl: Promise<string> | undefined;
/** Set by stopEmbeddedDatabase: a process on its way out starts no server any more. */
let stopped = false;

/**
 * DATABASE_URL when configured; otherwise starts (once per process) the
 * embedded PostgreSQL with its data under DATA_DIR/postgres — or, with
 * `attachToRunning`, uses the one a running app already serves there.
 */
export function resolveDatabaseUrl(settings: DatabaseSettings, options: { attachToRunning?: boolean } = {}): Promise<string> {
  if (settings.url) return Promise.resolve(settings.url);
  // A signal while the app module was still being built: stop() found no server to stop, so none may start after it.
  if (stopped) return Promise.reject(new Error('Embedded PostgreSQL not started: the process is stopping'));
  if (!embeddedUrl) {
    const logger = new Logger('EmbeddedPostgres');
    embedded = new EmbeddedPostgres({
      dataDir: settings.embeddedDataDir,
      port: settings.embeddedPort,
      log: (line) => logger.debug(line),
      warn: (message) => logger.warn(message),
      // server.ts and the CLIs stop it themselves on every signal, after their own work is drained.
      detached: true,
      attachToRunning: options.attachToRunning,
    });
    logger.log(`starting embedded PostgreSQL in ${settings.embeddedDataDir} on 127.0.0.1:${settings.embeddedPort}`);
    embeddedUrl = embedded.start();
  }
  return embeddedUrl;
}

/** Stops the embedded server if this process started one (or is starting it); none starts afterwards. */
export async function stopEmbeddedDatabase(): Promise<void> {
  stopped = true;
  const server = embedded;
  embedded = undefined;
  embeddedUrl = undefined;
  await server?.stop();
}
