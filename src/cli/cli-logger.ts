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

  // The services log as the app's pino logger reads it, (fields, message, context): ConsoleLogger printed
  // the fields as a multi-line object, an error with its whole stack, and took the message for a stack.
  override error(message: unknown, ...rest: unknown[]): void {
    super.error(...(this.oneLine(message, rest, true) as [unknown, ...unknown[]]));
  }
  override warn(message: unknown, ...rest: unknown[]): void {
    super.warn(...(this.oneLine(message, rest, false) as [unknown, ...unknown[]]));
  }
  override log(message: unknown, ...rest: unknown[]): void {
    super.log(...(this.oneLine(message, rest, false) as [unknown, ...unknown[]]));
  }
  override debug(message: unknown, ...rest: unknown[]): void {
    super.debug(...(this.oneLine(message, rest, false) as [unknown, ...unknown[]]));
  }

  /**
   * `(fields, message, context)` → `message (key: value; …)` on one line, an error by its message; the
   * error's stack follows (as ConsoleLogger prints a stack) from LOG_LEVEL=debug. Anything else as given.
   */
  private oneLine(message: unknown, rest: unknown[], withStack: boolean): unknown[] {
    if (message === null || typeof message !== 'object' || message instanceof Error || typeof rest[0] !== 'string') return [message, ...rest];
    const [text, ...context] = rest as [string, ...unknown[]];
    let stack: string | undefined;
    const fields = Object.entries(message as Record<string, unknown>).map(([key, value]) => {
      if (value instanceof Error) {
        stack ??= value.stack;
        return `${key}: ${value.message.split('\n')[0]}`;
      }
      return `${key}: ${typeof value === 'string' ? value : shown(value)}`;
    });
    const line = fields.length ? `${text} (${fields.join('; ')})` : text;
    return withStack && stack && this.isLevelEnabled('debug') ? [line, stack, ...context] : [line, ...context];
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

/** A field's value on a log line: JSON where it can be (a bigint or a cycle cannot). */
function shown(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
