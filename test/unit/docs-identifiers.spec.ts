import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The code names README, ARCHITECTURE and DEPLOYMENT give in backticks (`FamilyVersionService`,
 * `assertRecordRoom`, `record_count`) name something the code still has: a rename that leaves the
 * docs behind fails here (ARCHITECTURE named `bumpVersion`, a function renamed to bumpStatement).
 * Names of other projects' code (Nest, Node, WatermelonDB, PostgreSQL, nginx…) are listed below.
 */
const EXTERNAL = new Set([
  // Nest, Node, Express
  'FileInterceptor', 'FileTypeValidator', 'createRequire', 'forwardRef', 'loadPackage', 'writeQueueSize', '_onTimeout',
  // WatermelonDB
  'createTable', 'experimentalRejectedIds', 'fetchLocalChanges', 'sendCreatedAsUpdated',
  // Kubernetes, nginx, PgBouncer, PostgreSQL
  'activeDeadlineSeconds', 'limit_req', 'client_body_timeout', 'ignore_startup_parameters', 'pg_basebackup',
]);

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : /\.(ts|mjs|cjs|js|json|yml|sql)$|Dockerfile$/.test(name) ? [path] : [];
  });
}

describe('docs: code names in backticks', () => {
  const code = ['src', 'test', 'migrations', 'bench', 'scripts', 'docker']
    .flatMap(filesUnder)
    .concat(['jest.config.mjs', 'package.json', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json'])
    .filter((path) => !path.endsWith('docs-identifiers.spec.ts'))
    .map((path) => readFileSync(path, 'utf8'))
    .join('\n');

  it.each(['README.md', 'ARCHITECTURE.md', 'DEPLOYMENT.md'])('%s names only identifiers the code has', (doc) => {
    const text = readFileSync(doc, 'utf8');
    const names = new Set([
      // camelCase and PascalCase with an inner capital (a class, a function, a property), optionally called: `name()`
      ...[...text.matchAll(/`([A-Za-z_][a-z0-9_]*[A-Z][A-Za-z0-9_]*)(?:\(\))?`/g)].map((m) => m[1]),
      // snake_case (a table, a column, a setting)
      ...[...text.matchAll(/`([a-z]+(?:_[a-z0-9]+)+)`/g)].map((m) => m[1]),
    ]);
    const missing = [...names]
      .filter((name) => /[a-z]/.test(name)) // ALL_CAPS: a variable or an error code (configuration-docs and sync-docs check ours), or a library's constant
      .filter((name) => !EXTERNAL.has(name) && !new RegExp(`\\b${name}\\b`).test(code));
    expect(missing).toEqual([]);
  });
});
