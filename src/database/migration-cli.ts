/**
 * `npm run migration:run | migration:revert | migration:show | migration:generate -- <Name>`
 * against DATABASE_URL or the embedded PostgreSQL, with the app's own data source.
 */
import 'reflect-metadata';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import { createCliDataSource } from '../../ormconfig.js';
import { stopEmbeddedDatabase } from './database-url.js';
import { revertLastMigration, runPendingMigrations } from './migration-runner.js';

async function generate(dataSource: DataSource, name: string | undefined): Promise<void> {
  if (!name || !/^[A-Za-z][A-Za-z0-9]*$/.test(name)) throw new Error('Usage: migration:generate -- <PascalCaseName>');
  const sql = await dataSource.driver.createSchemaBuilder().log();
  if (!sql.upQueries.length) {
    console.log('No changes between the entities and the database schema.');
    return;
  }
  const timestamp = Date.now();
  const quote = (q: string) => '`' + q.replace(/[`\\]/g, '\\$&').replace(/\$\{/g, '\\${') + '`';
  const lines = (queries: { query: string }[]) => queries.map((q) => `    await q.query(${quote(q.query)});`).join('\n');
  const source = `import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ${name}${timestamp} implements MigrationInterface {
  name = '${name}${timestamp}';

  async up(q: QueryRunner): Promise<void> {
${lines(sql.upQueries)}
  }

  async down(q: QueryRunner): Promise<void> {
${lines([...sql.downQueries].reverse())}
  }
}
`;
  const file = resolve('migrations', `${timestamp}-${name}.ts`);
  await writeFile(file, source);
  console.log(`Wrote ${join('migrations', `${timestamp}-${name}.ts`)}; add it to src/database/migrations.ts.`);
}

async function main(): Promise<void> {
  const [command, name] = process.argv.slice(2);
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
        await generate(dataSource, name);
        break;
      default:
        throw new Error('Usage: migration-cli run | revert | show | generate <Name>');
    }
  } finally {
    await dataSource.destroy();
  }
}

main()
  .catch((error: unknown) => {
    console.error(`migration failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  })
  .finally(() => stopEmbeddedDatabase());
