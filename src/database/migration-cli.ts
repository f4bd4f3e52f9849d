/**
 * `npm run migration:run | migration:revert | migration:show | migration:generate -- <Name>`
 * against DATABASE_URL or the embedded PostgreSQL, with the app's own data source
 * and configuration (`.env`, then the environment).
 */
import 'reflect-metadata';
import { ConsoleLogger, Logger, type LogLevel } from '@nestjs/common';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import { createCliDataSource } from '../../ormconfig.js';
import { loadDotEnv } from '../config/dotenv.js';
import { ConfigValidationError } from '../config/env.validation.js';
import { stopEmbeddedDatabase } from './database-url.js';
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

/** PostgreSQL's own log lines are debug: shown only with LOG_LEVEL=debug or trace. */
function cliLogLevels(level: string | undefined): LogLevel[] {
  const order: LogLevel[] = ['verbose', 'debug', 'log', 'warn', 'error', 'fatal'];
  const from = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5, silent: 6 }[level ?? 'info'] ?? 2;
  return order.slice(from);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const name = rest.find((arg) => !arg.startsWith('--'));
  if (!['run', 'revert', 'show', 'generate'].includes(command)) throw new Error(USAGE);
  loadDotEnv(); // for LOG_LEVEL; createCliDataSource loads and validates the whole configuration
  Logger.overrideLogger(new ConsoleLogger({ logLevels: cliLogLevels(process.env.LOG_LEVEL), colors: Boolean(process.stdout.isTTY) }));
  const dataSource = await createCliDataSource();
  await dataSource.initialize();
  try {
    switch (command) {
      case 'run':
        console.log(await runPendingMigrations(dataSource));
        break;
      case 'revert':
        console.log(await revertLastMigration(dataSource));
        break;
      case 'show': {
        const pending = await dataSource.showMigrations();
        console.log(pending ? 'There are pending migrations.' : 'No pending migrations.');
        break;
      }
      case 'generate':
        await generate(dataSource, name, rest.includes('--allow-drop'));
        break;
    }
  } finally {
    await dataSource.destroy();
  }
}

let stopping = false;
async function finish(code: number): Promise<never> {
  stopping = true;
  await stopEmbeddedDatabase().catch(() => undefined);
  process.exit(code);
}

// Ctrl-C or SIGTERM during a migration: the embedded PostgreSQL (its own process group) is stopped,
// which rolls the migration transaction back, rather than left running.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    console.error(`interrupted (${signal})`);
    void finish(130);
  });
}

main().then(
  () => finish(0),
  (error: unknown) => {
    if (stopping) return;
    const message = error instanceof ConfigValidationError || error instanceof Error ? error.message : String(error);
    console.error(`migration failed: ${message}`);
    void finish(1);
  },
);
