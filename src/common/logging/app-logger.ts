import type { LoggerService, LogLevel } from '@nestjs/common';
import { pino, type DestinationStream, type Logger as Pino } from 'pino';
import { requestContext } from './request-context.js';

const NEST_TO_PINO: Record<LogLevel, 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal'> = {
  log: 'info',
  error: 'error',
  warn: 'warn',
  debug: 'debug',
  verbose: 'trace',
  fatal: 'fatal',
};

/** Prototype of the objects pino's error serializer builds (the raw error's other values are copied as they are). */
const SERIALIZED_ERROR = Object.getPrototypeOf(pino.stdSerializers.err(new Error()));

/**
 * pino's error serializer copies every enumerable property: for a TypeORM QueryFailedError that
 * includes `parameters`, the values of the failed statement (password hashes, emails, patient
 * data), and PostgreSQL's `detail`, which quotes row values ("Failing row contains (…)" of a
 * check or not-null violation: a whole row of medical data; "Key (email)=(…) already exists").
 * The SQL text and the driver's message, code, table and constraint stay; the values are dropped,
 * also from nested serialized errors (driverError, aggregateErrors). Objects of the application
 * that the serializer copied by reference are neither walked nor changed.
 */
function serializeError(error: unknown): unknown {
  const serialized: unknown = pino.stdSerializers.err(error as Error);
  const isSerializedError = (node: unknown): node is Record<string, unknown> =>
    node !== null && typeof node === 'object' && Object.getPrototypeOf(node) === SERIALIZED_ERROR;
  const stack = [serialized];
  while (stack.length) {
    const node = stack.pop();
    if (!isSerializedError(node)) continue;
    delete node.parameters;
    delete node.detail;
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) stack.push(...value);
      else stack.push(value);
    }
  }
  return serialized;
}

/**
 * One stdout stream for every logger of the process (server.ts's start-up logger, the app's, the
 * access log): lines keep their order. Asynchronous, flushed when the process exits.
 */
let stdout: DestinationStream | undefined;

export function createPino(level: string, destination?: DestinationStream): Pino {
  const options = {
    level,
    base: { pid: process.pid },
    serializers: { err: serializeError },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'password', '*.password'], censor: '[redacted]' },
    // Every line carries the id of the request it was logged in.
    mixin: () => {
      const reqId = requestContext.getStore()?.reqId;
      return reqId ? { reqId } : {};
    },
  };
  return pino(options, destination ?? (stdout ??= pino.destination({ dest: process.stdout.fd ?? 1, sync: false })));
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
    } else if ((level === 'error' || level === 'fatal') && typeof rest[0] === 'string') {
      // Nest's error(message, stack, context): its own modules pass the cause only as the stack
      // (TypeORM's "Unable to connect to the database", the exceptions handler), so it is kept.
      this.pino[method]({ context, stack: rest[0] }, String(message));
    } else {
      this.pino[method]({ context }, String(message));
    }
  }
}
