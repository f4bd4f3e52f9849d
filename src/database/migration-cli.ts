/**
 * `npm run migration:run | migration:revert | migration:show | migration:generate -- <Name>`
 * against DATABASE_URL or the embedded PostgreSQL, with the app's own data source
 * and configuration (`.env`, then the environment).
 */
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MigrationExecutor, type DataSource } from 'typeorm';
import { createCliDataSource } from '../../ormconfig.js';
import { CliLogger, cliLogLevels } from '../cli/cli-logger.js';
import { loadDotEnv } from '../config/dotenv.js';
import { ConfigValidationError } from '../config/env.validation.js';
import { commandStopping, exitCommand, exitCommandOnSignals } from './command-exit.js';
import { destructiveStatements, migrationSource } from './migration-generator.js';
import { revertLastMigration, runPendingMigrations } from './migration-runner.js';

const USAGE = 'Usage: migration-cli run | revert | show | generate <PascalCaseName> [--allow-drop]';

async function generate(dataSource: DataSource, name: string | undefined, allowDrop: boolean): Promise<void> {
  if (!name || !/^[A-Za-z][A-Za-z0-9]*$/.test(name)) throw new Error('Usage: migration:generate -- <PascalCaseName> [--allow-drop]');
  const sql = await dataSource.driver.createSchemaBuilder().log();
  if (!sql.upQueries.length) {
    console.log('No changes between the entities and the database schema.');
    return;
  }
  const destructive = destructiveStatements(sql.upQueries);
  if (destructive.length && !allowDrop) {
    throw new Error(
      `the generated migration would drop or rewrite existing schema objects:\n${destructive.map((q) => `  ${q}`).join('\n')}\n` +
        'If the entities are missing a declaration (a column, foreign key, index or CHECK), add it there instead. ' +
        'If the drop is intended, run again with --allow-drop. Nothing was written.',
    );
  }
  const timestamp = Date.now();
  await mkdir(resolve('migrations'), { recursive: true });
  const file = join('migrations', `${timestamp}-${name}.ts`);
  await writeFile(resolve(file), migrationSource(`${name}${timestamp}`, sql.upQueries, sql.downQueries));
  console.log(`Wrote ${file}; add it to src/database/migrations.ts.`);
}

/**
 * `show`: what is pending, by name. Exits 0 either way (1 only when it cannot tell); scripts read
 * the first words: "No pending migrations" or "<n> pending migration(s)".
 */
async function show(dataSource: DataSource): Promise<string> {
  const executor = new MigrationExecutor(dataSource);
  const [pending, applied] = await Promise.all([executor.getPendingMigrations(), executor.getExecutedMigrations()]);
  if (!pending.length) {
    const last = applied.reduce<(typeof applied)[number] | undefined>((a, m) => (!a || m.timestamp > a.timestamp ? m : a), undefined);
    return `No pending migrations (${applied.length} applied${last ? `, the last: ${last.name}` : ''}).`;
  }
  return (
    `${pending.length} pending migration${pending.length === 1 ? '' : 's'}: ${pending.map((m) => m.name).join(', ')}\n` +
    // Both ways: the image has only dist/ (npm run builds first, which needs the sources and the Nest CLI).
    `\`npm run migration:run\`, or \`node dist/cli.js migration:run\` where only dist/ is deployed, applies ${pending.length === 1 ? 'it' : 'them'} (the app also does at start-up).`
  );
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const name = rest.find((arg) => !arg.startsWith('--'));
  if (!['run', 'revert', 'show', 'generate'].includes(command)) throw new Error(USAGE);
  loadDotEnv(); // for LOG_LEVEL; createCliDataSource loads and validates the whole configuration
  // Like the admin CLI: logs on stderr, warnings and errors only unless LOG_LEVEL=debug (TypeORM's
  // per-migration lines, PostgreSQL's log); stdout carries what the command reports.
  Logger.overrideLogger(new CliLogger(cliLogLevels(process.env.LOG_LEVEL)));
  // Next to a running `npm start` on the same DATA_DIR, its embedded server is used (and left running),
  // as `node dist/cli.js migration:run` does.
  const dataSource = await createCliDataSource({ attachToRunning: true });
  await dataSource.initialize();
  try {
    switch (command) {
      case 'run':
        console.log(await runPendingMigrations(dataSource));
        break;
      case 'revert':
        console.log(await revertLastMigration(dataSource));
        break;
      case 'show':
        console.log(await show(dataSource));
        break;
      case 'generate':
        await generate(dataSource, name, rest.includes('--allow-drop'));
        break;
    }
  } finally {
    await dataSource.destroy();
  }
}

exitCommandOnSignals();

main().then(
  () => (commandStopping() ? undefined : exitCommand(0)),
  (error: unknown) => {
    if (commandStopping()) return;
    const message = error instanceof ConfigValidationError || error instanceof Error ? error.message : String(error);
    console.error(`migration failed: ${message}`);
    void exitCommand(1);
  },
);
