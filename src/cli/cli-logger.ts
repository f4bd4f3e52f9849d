import { ConsoleLogger, type LogLevel } from '@nestjs/common';

/**
 * The logger of both command-line tools (`node dist/cli.js`, `npm run migration:*`): every line on
 * stderr, so stdout carries only the command's result (`family:show --json | jq` works while a
 * warning is logged), coloured only when stderr is a terminal (and NO_COLOR is unset).
 */
export class CliLogger extends ConsoleLogger {
  constructor(logLevels: LogLevel[], stream: { isTTY?: boolean } = process.stderr) {
    super({ logLevels, colors: Boolean(stream.isTTY) && !process.env.NO_COLOR });
  }

  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    _writeStreamType?: 'stdout' | 'stderr',
    errorStack?: unknown,
    params?: Record<string, unknown>,
  ): void {
    // Nest logs a module's start-up failure with its stack before rethrowing it (abortOnError: false);
    // the CLI reports that error itself in one line. Its stack is for LOG_LEVEL=debug.
    if (context === 'ExceptionHandler' && !this.isLevelEnabled('debug')) return;
    super.printMessages(messages, context, logLevel, 'stderr', errorStack, params);
  }
}

/**
 * What a CLI logs for a LOG_LEVEL. Warnings and errors by default; Nest's `log` lines (module
 * start-up, TypeORM's per-migration lines, "starting embedded PostgreSQL") are detail for
 * LOG_LEVEL=debug, along with PostgreSQL's own log; `trace` adds verbose.
 */
export function cliLogLevels(level: string | undefined): LogLevel[] {
  switch (level) {
    case 'silent':
      return [];
    case 'fatal':
      return ['fatal'];
    case 'error':
      return ['error', 'fatal'];
    case 'debug':
      return ['log', 'debug', 'warn', 'error', 'fatal'];
    case 'trace':
      return ['verbose', 'log', 'debug', 'warn', 'error', 'fatal'];
    default: // info, warn, unset or not valid yet (validated later)
      return ['warn', 'error', 'fatal'];
  }
}
