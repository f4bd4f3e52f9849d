import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveDatabaseUrl, stopEmbeddedDatabase } from './database-url.js';

describe('resolveDatabaseUrl', () => {
  // Found by mutation testing. A signal while the app module is still being built stops the process
  // before TypeORM has asked for its database: a server started after that stop would be started for
  // a process on its way out (and the stop would have found nothing to stop).
  it('starts no embedded PostgreSQL once the process is stopping; DATABASE_URL is still answered', async () => {
    const base = mkdtempSync(join(tmpdir(), 'hemoday-stopping-'));
    try {
      await stopEmbeddedDatabase();
      const settings = { embeddedPort: 1, embeddedDataDir: join(base, 'postgres') };
      await expect(resolveDatabaseUrl(settings)).rejects.toThrow('Embedded PostgreSQL not started: the process is stopping');
      expect(existsSync(settings.embeddedDataDir)).toBe(false);
      await expect(resolveDatabaseUrl({ ...settings, url: 'postgres://u@db.internal/hemoday' })).resolves.toBe('postgres://u@db.internal/hemoday');
    } finally {
      await stopEmbeddedDatabase();
      rmSync(base, { recursive: true, force: true });
    }
  });
});
