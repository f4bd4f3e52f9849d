import type { Logger as Pino } from 'pino';
import { createPino } from '../common/logging/app-logger.js';
import { loadDotEnv } from './dotenv.js';
import { ConfigValidationError, validatedEnv } from './env.validation.js';

/** How a start refused for its configuration says so: one fatal JSON line listing the problems. */
export function logConfigurationRefused(pino: Pino, error: ConfigValidationError): void {
  pino.fatal({ context: 'Bootstrap', problems: error.problems }, `HemoDay failed to start: ${error.message}`);
}

/**
 * The server's configuration, checked before the application is loaded (main.ts): `.env` read, then
 * every variable validated. Its modules (these rules, class-validator, pino) load in a fraction of
 * the second or more the application takes (Nest, TypeORM, every module: ~2 s of CPU on a busy
 * machine), so a misconfigured start — a container restarting in a loop among them — says what is
 * wrong at once. True when it refused (the line is logged); the application validates again as it
 * starts (server.ts, from the same cache), which also checks DATA_DIR.
 */
export function configurationRefused(): boolean {
  loadDotEnv();
  try {
    validatedEnv();
    return false;
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    logConfigurationRefused(createPino('info'), error); // LOG_LEVEL may be the bad value
    return true;
  }
}
