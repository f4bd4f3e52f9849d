import type { LoggerService } from '@nestjs/common';
import { requestContext } from '../../src/common/logging/request-context.js';

/** A line an app logged through Nest's logger: its level, message and the rest (context, fields). */
export interface LoggedLine {
  level: string;
  message: unknown;
  rest: unknown[];
  /** The request id the line is written with (AppLogger's mixin reads the same context): undefined outside any request. */
  reqId?: string;
}

/**
 * A Nest logger that keeps every line in `logged` (`app.useLogger(logger)`), for tests that check what
 * an app logged: a warning with its cause, and no error.
 */
export function capturingLogger(): { logger: LoggerService; logged: LoggedLine[] } {
  const logged: LoggedLine[] = [];
  const capture = (level: string) => (message: unknown, ...rest: unknown[]) => logged.push({ level, message, rest, reqId: requestContext.getStore()?.reqId });
  const logger: LoggerService = { log: capture('log'), error: capture('error'), warn: capture('warn'), debug: capture('debug'), verbose: capture('verbose'), fatal: capture('fatal') };
  return { logger, logged };
}
