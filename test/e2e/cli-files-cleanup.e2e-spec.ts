/**
 * `files:cleanup` as operators run it (`node dist/cli.js files:cleanup`), on files
 * uploaded through the real app into a shared UPLOAD_DIR.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bearer, registerFamily } from '../factories/auth.factory.js';
import { createTestApp, type TestApp } from '../setup/test-app.js';

const CLI = resolve('dist/cli.js');

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const base: Record<string, string | undefined> = { ...process.env };
  delete base.NODE_OPTIONS;
  return new Promise((done) =>
    execFile(process.execPath, [CLI, ...args], { env: { ...base, NODE_ENV: 'test', LOG_LEVEL: 'warn', ...env }, timeout: 60_000 }, (error, stdout, stderr) =>
      done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

describe('files:cleanup (node dist/cli.js)', () => {
  const uploadDir = mkdtempSync(join(tmpdir(), 'hemoday-cli-cleanup-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'hemoday-cli-cleanup-data-'));
  let t: TestApp;
  beforeAll(async () => (t = await createTestApp({ UPLOAD_DIR: uploadDir })));
  afterAll(async () => {
    await t.close();
    rmSync(uploadDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('reports in a dry run, then deletes only the unreferenced file', async () => {
    const family = await registerFamily(t);
    const pdf = () => Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(300), Buffer.from('\n%%EOF\n')]);
    const upload = async (fields: Record<string, string> = {}) => {
      const req = t.http().post('/api/v1/upload').set(bearer(family.token));
      for (const [k, v] of Object.entries(fields)) req.field(k, v);
      return (await req.attach('file', pdf(), 'scan.pdf').expect(201)).body as { id: string };
    };
    const orphan = await upload();
    const kept = await upload({ name: 'Ferritin, March', category: 'lab_result' });
    const onDisk = (f: { id: string }) => existsSync(join(uploadDir, family.user.family_id!, f.id));
    const env = { DATABASE_URL: process.env.TEST_DATABASE_URL!, UPLOAD_DIR: uploadDir, DATA_DIR: dataDir };

    const dry = await cli(['files:cleanup', '--dry-run', '--grace-hours', '0', '--json'], env);
    expect(dry.code).toBe(0);
    const dryReport = JSON.parse(dry.stdout) as { dry_run: boolean; files: Array<{ id: string; reason: string }> };
    expect(dryReport.dry_run).toBe(true);
    expect(dryReport.files).toContainEqual(expect.objectContaining({ id: orphan.id, reason: 'unreferenced' }));
    expect(dryReport.files.map((f) => f.id)).not.toContain(kept.id);
    expect(onDisk(orphan)).toBe(true);

    const real = await cli(['files:cleanup', '--grace-hours', '0'], env);
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/deleted \d+ file/);
    expect(onDisk(orphan)).toBe(false);
    expect(onDisk(kept)).toBe(true);
    await t.http().get(`/api/v1/files/${orphan.id}`).set(bearer(family.token)).expect(404);
    await t.http().get(`/api/v1/files/${kept.id}`).set(bearer(family.token)).expect(200);
  });

  it('rejects a bad option value with one line', async () => {
    const run = await cli(['files:cleanup', '--grace-hours', 'soon'], { DATABASE_URL: process.env.TEST_DATABASE_URL!, DATA_DIR: dataDir });
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/--grace-hours must be a whole number/);
  });
});
