/**
 * docker/ cannot be built here (no Docker engine), so these checks keep it in step with the code:
 * what the image runs exists after `npm run build`, and every variable the compose file sets is one
 * the app validates (a typo would otherwise be silently ignored).
 */
import { existsSync, readFileSync } from 'node:fs';
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
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
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

  it('the compose file has no default database password and publishes the API on loopback unless told otherwise', () => {
    const uses = [...compose.matchAll(/\$\{POSTGRES_PASSWORD([^}]*)\}/g)].map((m) => m[1]);
    expect(uses.length).toBeGreaterThanOrEqual(2); // the database's own setting and the app's DATABASE_URL
    for (const use of uses) expect(use).toMatch(/^:\?/); // required: compose stops with the message when unset
    const published = compose.slice(compose.indexOf('\n    ports:')).split('\n')[2];
    expect(published).toMatch(/^ +- "\$\{APP_BIND:-127\.0\.0\.1\}:\$\{APP_PORT:-3000\}:3000"$/);
  });
});
