import 'reflect-metadata';
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { ConfigType } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';
import { unroutedConnectionsCloser } from './common/http/unrouted-connections.js';
import { AppLogger, createPino } from './common/logging/app-logger.js';
import { isDatabaseUnavailable } from './common/postgres-errors.js';
import { httpConfig } from './config/configuration.js';
import { loadDotEnv } from './config/dotenv.js';
import { ConfigValidationError, validatedEnv } from './config/env.validation.js';
import { logConfigurationRefused } from './config/startup-configuration.js';
import { configureApp } from './configure-app.js';
import { stopEmbeddedDatabase } from './database/database-url.js';
import { DatabaseRequirementError } from './database/database-requirements.js';
import { EmbeddedPostgresError } from './database/embedded-postgres.js';
import { JwtSecretError } from './modules/auth/jwt-secret.js';
import { SyncEventsService } from './modules/sync/sync-events.service.js';

const SHUTDOWN_TIMEOUT_MS = 20_000;

/**
 * Nest's logger from the first line on (no buffering: the embedded PostgreSQL's start, an orphan
 * warning and migration progress print as they happen, with their own time). Nest's
 * ExceptionHandler logs a start-up error with its stack before rethrowing it; main() reports it
 * once, in its own line, so that copy is dropped while starting.
 */
class StartupLogger extends AppLogger {
  starting = true;

  override error(message: unknown, ...rest: unknown[]) {
    // Nest logs a failed listen() under NestApplication too, before main() reports it.
    if (this.starting && ['ExceptionHandler', 'NestApplication'].includes(rest[rest.length - 1] as string)) return;
    super.error(message, ...rest);
  }
}

let logger = new StartupLogger(createPino('info')); // LOG_LEVEL is not validated yet
let app: NestExpressApplication | undefined;
/** DATABASE_URL once validated: a failure to use it names it (describeDatabaseError). */
let databaseUrl: string | undefined;
let stopping: Promise<void> | undefined;
/** Closes the connections that carry no request yet, at shutdown (set once the app is created). */
let closeUnroutedConnections: () => void = () => undefined;

/**
 * The one way out after start-up began: close HTTP (in-flight requests finish), then the database
 * pool, then the embedded PostgreSQL, then exit. A signal during start-up gets here too: stopping
 * the embedded server interrupts its start or the migrations (which run in one transaction).
 */
function stop(code: number, log: () => void): Promise<void> {
  if (stopping) return stopping;
  log();
  stopping = (async () => {
    setTimeout(() => {
      logger.pino.fatal({ context: 'Bootstrap' }, `shutdown did not finish within ${SHUTDOWN_TIMEOUT_MS / 1000}s; exiting`);
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    // server.close() closes the idle keep-alive connections of the moment only: a request still
    // in flight leaves its connection open for keepAliveTimeout once answered. Close those as they idle.
    const server = app?.getHttpServer() as import('node:http').Server | undefined;
    // Nor does it close a connection whose request is still arriving (a stalled client's half-sent headers).
    const idle = setInterval(() => {
      server?.closeIdleConnections();
      closeUnroutedConnections();
    }, 100);
    try {
      // Drain HTTP first: Nest's close() runs the shutdown hooks (the database pool ends there)
      // before it stops the HTTP server, so a request still in flight could hold a connection
      // while PostgreSQL is being stopped.
      // Open "sync now" streams never end by themselves: end them, or the server never closes.
      app?.get(SyncEventsService, { strict: false }).endStreams();
      if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
      await app?.close();
    } catch (error) {
      logger.pino.error({ context: 'Bootstrap', err: error }, 'closing the application failed');
      code = 1;
    } finally {
      clearInterval(idle);
    }
    try {
      await stopEmbeddedDatabase();
    } catch (error) {
      logger.pino.error({ context: 'Bootstrap', err: error }, 'stopping the embedded PostgreSQL failed');
      code = 1;
    }
    process.exit(code);
  })();
  return stopping;
}

/**
 * What main.ts calls on SIGINT, SIGTERM and SIGHUP (SIGHUP: the terminal was closed) once this module
 * is loaded; main.ts installs the handlers before loading it, so a signal during start-up
 * (migrations, the embedded PostgreSQL's initdb) still stops the database.
 */
export function handleSignal(signal: NodeJS.Signals): void {
  void stop(0, () =>
    logger.pino.info(
      { context: 'Bootstrap' },
      app && !logger.starting ? `${signal} received: closing HTTP server, then the database` : `${signal} received during start-up: stopping`,
    ),
  );
}

async function bootstrap(): Promise<void> {
  loadDotEnv();
  const env = validatedEnv(); // fail before anything starts, with one line per bad variable
  logger = new StartupLogger(createPino(env.LOG_LEVEL));
  databaseUrl = env.DATABASE_URL;
  // Local state (the embedded cluster, the generated JWT secret) is kept there only without these.
  if (!env.DATABASE_URL || !env.JWT_SECRET) await assertDataDirWritable(resolve(env.DATA_DIR ?? '.data'));
  const created = await NestFactory.create<NestExpressApplication>(AppModule, { bodyParser: false, logger, abortOnError: false });
  app = created;
  if (stopping) {
    await created.close(); // a signal arrived while it was starting: stop() is stopping the database
    return;
  }
  configureApp(created);
  closeUnroutedConnections = unroutedConnectionsCloser(created.getHttpServer());
  created.useLogger(logger); // configureApp set a plain AppLogger: keep the start-up filter until listening
  const http = created.get<ConfigType<typeof httpConfig>>(httpConfig.KEY);
  await created.listen(http.port, http.host).catch((error: unknown) => {
    throw describeListenError(error, http.host, http.port);
  });
  logger.starting = false;
  // The port bound, not the one asked for: PORT=0 takes a free one, and this line is where to find it.
  const { port } = created.getHttpServer().address() as AddressInfo;
  logger.pino.info({ context: 'Bootstrap' }, `HemoDay API listening on http://${http.host}:${port} (docs at /docs)`);
}

/**
 * DATA_DIR exists (created if missing) and this process may write there. Otherwise the first to
 * touch it failed with Node's words and a stack ("EACCES: permission denied, mkdir '…'", from the
 * JWT secret or the embedded PostgreSQL's start), naming no variable (found by review).
 */
async function assertDataDirWritable(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigValidationError([
      `DATA_DIR=${JSON.stringify(dir)}: local state (the embedded PostgreSQL, the generated JWT secret) cannot be kept there (${code}): ` +
        `it must be a folder this process (uid ${process.getuid?.() ?? '?'}) can write, e.g. chown it to that user, or set DATA_DIR to one`,
    ]);
  }
}

/** A start-up failure whose message says it all: logged without a stack. */
class StartupError extends Error {}

function describeListenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return new StartupError(`${host}:${port} is already in use: stop what listens there, or set PORT/HOST`);
  if (code === 'EACCES') return new StartupError(`not allowed to listen on ${host}:${port}: choose a PORT above 1023, or set HOST`);
  if (code === 'EADDRNOTAVAIL') return new StartupError(`${host} is not an address of this machine: set HOST`);
  // A mistyped HOST: Node's "getaddrinfo ENOTFOUND …" with a stack named no variable.
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new StartupError(`HOST=${host} does not resolve to an address of this machine: set HOST`);
  return error;
}

/** PostgreSQL's refusals of a session: no such role, a wrong password, no pg_hba.conf entry (class 28), no such database. */
const SESSION_REFUSED_SQLSTATE = /^(28\w{3}|3D000)$/;

/**
 * The server at DATABASE_URL cannot be reached or refuses the session: PostgreSQL's or the socket's
 * words ('database "x" does not exist', 'connect ECONNREFUSED …') with a stack from the driver's
 * files, naming no variable (found by review). The URL is shown without its user and password.
 */
function describeDatabaseError(error: unknown): unknown {
  if (!databaseUrl || !(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  if (!(typeof code === 'string' && SESSION_REFUSED_SQLSTATE.test(code)) && !isDatabaseUnavailable(error)) return error;
  let where = '';
  try {
    const url = new URL(databaseUrl);
    where = ` (${url.hostname || 'localhost'}:${url.port || 5432}${url.pathname})`;
  } catch {
    /* validated at start-up; nothing to add */
  }
  // A refused connection to `localhost` (both its addresses tried) is an AggregateError without a message.
  return new StartupError(`cannot use the database of DATABASE_URL${where}: ${error.message || code}`);
}

/** Starts the server; a failure is logged in one line and ends the process (exit 1). */
export function startServer(): void {
  bootstrap().catch((caught: unknown) =>
    stop(1, () => {
      const error = describeDatabaseError(caught);
      // One line, JSON like every other: what failed and why; the stack only for unexpected errors.
      if (error instanceof ConfigValidationError) {
        logConfigurationRefused(logger.pino, error); // DATA_DIR's check (the variables were checked before loading: main.ts)
      } else if (error instanceof StartupError || error instanceof EmbeddedPostgresError || error instanceof DatabaseRequirementError || error instanceof JwtSecretError) {
        logger.pino.fatal({ context: 'Bootstrap' }, `HemoDay failed to start: ${error.message}`);
      } else if (error instanceof Error) {
        logger.pino.fatal({ context: 'Bootstrap', err: error }, `HemoDay failed to start: ${error.message}`);
      } else {
        logger.pino.fatal({ context: 'Bootstrap' }, `HemoDay failed to start: ${String(error)}`);
      }
    }),
  );
}
