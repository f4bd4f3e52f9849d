import type { LoggerService, LogLevel } from '@nestjs/common';
import { pino, type Logger as Pino } from 'pino';
import { requestContext } from './request-context.js';

const NEST_TO_PINO: Record<LogLevel, 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal'> = {
  log: 'info',
  error: 'error',
  warn: 'warn',
  debug: 'debug',
  verbose: 'trace',
  fatal: 'fatal',
};

export function createPino(level: string): Pino {
  return pino({
    level,
    base: { pid: process.pid },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'password', '*.password'], censor: '[redacted]' },
    // Every line carries the id of the request it was logged in.
    mixin: () => {
      const reqId = requestContext.getStore()?.reqId;
      return reqId ? { reqId } : {};
    },
  });
}

/** Nest's LoggerService over pino: structured JSON lines, with `context` and `reqId`. */
export class AppLogger implements LoggerService {
  constructor(readonly pino: Pino) {}

  log(message: unknown, ...rest: unknown[]) {
    this.write('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.write('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]) {
    this.write('fatal', message, rest);
  }

  private write(level: LogLevel, message: unknown, rest: unknown[]) {
    // Nest passes the context as the last string argument; an object first argument is structured data.
    const context = typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    const method = NEST_TO_PINO[level];
    if (message !== null && typeof message === 'object' && !(message instanceof Error)) {
      const text = typeof rest[0] === 'string' ? (rest[0] as string) : undefined;
      this.pino[method]({ context, ...(message as object) }, text);
    } else if (message instanceof Error) {
      this.pino[method]({ context, err: message }, message.message);
    } else {
      this.pino[method]({ context }, String(message));
    }
  }
}
