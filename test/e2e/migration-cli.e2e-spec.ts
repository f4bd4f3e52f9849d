/**
 * `npm run migration:*` (dist/src/database/migration-cli.js) as a user runs it
 * from the project folder: it reads `.env` like the app, and `generate` on an
 * up-to-date database proposes nothing (the entities declare every foreign key,
 * index and CHECK of their tables), and never writes a destructive migration
 * unless told to.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MIGRATIONS } from '../../src/database/migrations.js';
import { queryOnce, scratchDatabases } from '../setup/scratch-databases.js';
import { removeDir, scratchDir, startProcess, stopAll } from '../setup/service-process.js';
import { itOnEmbeddedRun } from '../setup/test-runs.js';

const CLI = resolve('dist/src/database/migration-cli.js');

describe('npm run migration:*', () => {
  const scratch = scratchDatabases('hemoday_migcli');
  const freshDatabase = () => scratch.create();
  const dirs: string[] = [];

  /** The CLI in a project folder of its own (its `.env`, its `migrations/`), with no DATABASE_URL in the environment. */
  async function runCli(args: string[], dotEnv: string) {
    const cwd = scratchDir('hemoday-migcli-');
    dirs.push(cwd);
    writeFileSync(join(cwd, '.env'), dotEnv);
    const run = startProcess(process.execPath, [CLI, ...args], { DATA_DIR: join(cwd, '.data') }, { cwd });
    const code = await run.exited;
    return { code, output: run.output(), cwd };
  }

  beforeAll(() => scratch.open());
  afterAll(async () => {
    await stopAll();
    await scratch.dropAll();
    dirs.forEach(removeDir);
  });

  it('migration:run reads DATABASE_URL from .env, as the app does', async () => {
    const url = await freshDatabase();
    const { code, output, cwd } = await runCli(['run'], `# project settings\nDATABASE_URL=${url}\n`);
    // Its own progress only (LOG_LEVEL=info): no TypeORM or Nest log lines around it.
    expect({ code, output }).toEqual({ code: 0, output: expect.stringMatching(/^Applied: InitialSchema1764090000000(, \w+\d{13})+\n$/) });
    expect((await queryOnce(url, 'SELECT count(*)::int AS n FROM migrations'))[0].n).toBeGreaterThan(0);
    expect(existsSync(join(cwd, '.data', 'postgres'))).toBe(false); // no embedded server was started
  });

  it('migration:show names what is pending and exits 0 either way', async () => {
    const url = await freshDatabase();
    const pending = await runCli(['show'], `DATABASE_URL=${url}\n`);
    expect(pending.code).toBe(0);
    expect(pending.output).toMatch(new RegExp(`^${MIGRATIONS.length} pending migrations: InitialSchema1764090000000, Files1764300000000, .*\n\`npm run migration:run\`, or \`node dist/cli.js migration:run\` where only dist/ is deployed, applies them`));
    expect((await runCli(['run'], `DATABASE_URL=${url}\n`)).code).toBe(0);
    const none = await runCli(['show'], `DATABASE_URL=${url}\n`);
    const last = new MIGRATIONS[MIGRATIONS.length - 1]().name;
    expect({ code: none.code, output: none.output }).toEqual({ code: 0, output: `No pending migrations (${MIGRATIONS.length} applied, the last: ${last}).\n` });
  });

  itOnEmbeddedRun('validates .env values like the app: a bad one is named and nothing starts', async () => {
    const { code, output, cwd } = await runCli(['show'], 'DB_POOL_SIZE=lots\n');
    expect(code).toBe(1);
    expect(output).toMatch(/migration failed: Invalid configuration:[\s\S]*DB_POOL_SIZE="lots"/);
    expect(existsSync(join(cwd, '.data', 'postgres'))).toBe(false);
  });

  it('migration:generate on a freshly migrated database reports no changes and writes nothing', async () => {
    const url = await freshDatabase();
    expect((await runCli(['run'], `DATABASE_URL=${url}\n`)).code).toBe(0);
    const { code, output, cwd } = await runCli(['generate', 'Probe'], `DATABASE_URL=${url}\n`);
    expect({ code, output }).toMatchObject({ code: 0, output: expect.stringContaining('No changes between the entities and the database schema.') });
    expect(existsSync(join(cwd, 'migrations'))).toBe(false);
  });

  it('migration:generate refuses to write DROP statements unless --allow-drop (e.g. an index the entities do not declare)', async () => {
    const url = await freshDatabase();
    expect((await runCli(['run'], `DATABASE_URL=${url}\n`)).code).toBe(0);
    await queryOnce(url, 'CREATE INDEX stray_files_mime_type_idx ON files (mime_type)');

    const refused = await runCli(['generate', 'Probe'], `DATABASE_URL=${url}\n`);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/would drop or rewrite existing schema objects:\n[\s\S]*DROP INDEX "public"."stray_files_mime_type_idx"/);
    expect(refused.output).toMatch(/Nothing was written/);
    expect(existsSync(join(refused.cwd, 'migrations'))).toBe(false);

    const allowed = await runCli(['generate', 'Probe', '--allow-drop'], `DATABASE_URL=${url}\n`);
    expect(allowed.code).toBe(0);
    const written = readdirSync(join(allowed.cwd, 'migrations'));
    expect(written).toEqual([expect.stringMatching(/^\d+-Probe\.ts$/)]);
  });
});
