/**
 * The admin CLI: `npm run cli -- <command>`, or `node dist/cli.js <command>`
 * in production. Commands: seed, user:create, user:reset-password,
 * family:show, migration:run, migration:revert (`--help` lists them).
 *
 * nest-commander is CommonJS and require()s the ESM-only @nestjs packages,
 * which plain Node ≥ 20.19 supports; jest on Node 20 does not, so only this
 * entry point loads it and the tests run the built CLI as a process.
 */
import 'reflect-metadata';
import { loadDotEnv } from './config/dotenv.js';
import { validatedEnv } from './config/env.validation.js';
import { commandStopping, exitCommand, exitCommandOnSignals } from './database/command-exit.js';
import { CliError, CliUsageError } from './cli/cli-error.js';
import { CliLogger, cliLogLevels } from './cli/cli-logger.js';
import { describeError } from './cli/describe-error.js';
import { recordLaunchEnv } from './cli/launch-env.js';

async function main(): Promise<number> {
  loadDotEnv();
  recordLaunchEnv();
  validatedEnv(); // one line per bad variable, before anything starts
  // Imported only now: evaluating it runs ConfigModule.forRoot, which writes the configuration's defaults
  // (NODE_ENV=development among them) into process.env. nest-commander too: a bad variable is reported
  // before the ~2 s of CPU that loading it, Nest, TypeORM and the modules take.
  const { CommandFactory } = await import('nest-commander');
  const { CliModule } = await import('./cli/cli.module.js');
  let failure: unknown;
  await CommandFactory.run(CliModule, {
    // On stderr (stdout is the command's result: `--json | jq`); warnings and errors unless LOG_LEVEL=debug.
    logger: new CliLogger(cliLogLevels(process.env.LOG_LEVEL)),
    // A module that fails to start (a JWT secret file that holds no secret) is thrown to main(), which
    // reports it in one line and stops the embedded database, rather than Nest exiting on its own.
    abortOnError: false,
    // Commander has printed its one-line message (unknown option/command, missing value) or the help:
    // throw instead of letting it call process.exit, so the embedded database still gets stopped.
    errorHandler: (error) => {
      throw new CliUsageError((error as Error & { exitCode?: number }).exitCode ?? 1);
    },
    serviceErrorHandler: (error) => {
      failure = error;
    },
    // Commander puts its "(Did you mean --families?)" on a second line: keep every failure to one.
    outputConfiguration: {
      outputError: (message, write) => write(message.replace(/\n\((Did you mean [^)]*)\)/, ' ($1)')),
    },
  });
  if (failure instanceof CliUsageError) return failure.exitCode;
  if (failure !== undefined) {
    console.error(`error: ${describeError(failure)}`);
    return failure instanceof CliError ? failure.exitCode : 1;
  }
  return 0;
}

exitCommandOnSignals();

main()
  .catch((error: unknown) => {
    console.error(`error: ${describeError(error)}`);
    return 1;
  })
  // Interrupted: the signal's exit (130) is under way; the command's failure as its database stops is
  // no reason to exit 1 instead, before the database has stopped.
  .then((code) => (commandStopping() ? undefined : exitCommand(code)));
