// Jest configuration for `npm test` (README, "Tests"): the unit project (rules, next to their code
// and in test/unit/) and the e2e project (the real app over HTTP, processes it starts), both native
// ESM TypeScript through ts-jest, on one database for the whole run (test/setup/global-setup.mjs).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const UNIT_SPECS = [
  { dir: 'src', match: (name) => name.endsWith('.spec.ts') },
  { dir: 'test/unit', match: (name) => name.endsWith('.spec.ts') },
];

/**
 * A unit spec that works on the run's database names it (TEST_DATABASE_URL) or takes it through the
 * suite's helpers (test/setup/, test/factories/: scratch databases and schemas, the service kit, the
 * test app). Any other never connects. Counting every import of a helper errs on the safe side: a
 * spec that needs no database but imports one runs on both servers, which costs seconds, not cover.
 */
const USES_DATABASE = /TEST_DATABASE_URL|test\/(setup|factories)\/|'\.\.\/(setup|factories)\//;

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/**
 * With DATABASE_URL (CI's second run, on the PostgreSQL 15 server) the suite runs again only for what
 * that server could answer differently: unit specs that never connect ran on the embedded run and
 * would repeat themselves exactly, so they are left out (test/setup/test-runs.ts does the same for
 * single tests of the e2e project that do not depend on the server).
 */
function unitSpecsWithoutDatabase() {
  return UNIT_SPECS.flatMap(({ dir, match }) => filesUnder(dir).filter((file) => match(file)))
    .filter((file) => !USES_DATABASE.test(readFileSync(file, 'utf8')))
    .map((file) => `<rootDir>/${file.replace(/[.]/g, '\\.')}$`);
}

const typescript = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      { useESM: true, tsconfig: 'tsconfig.json', astTransformers: { before: ['<rootDir>/test/setup/swagger-transformer.cjs'] } },
    ],
  },
};

export default {
  globalSetup: '<rootDir>/test/setup/global-setup.mjs',
  globalTeardown: '<rootDir>/test/setup/global-teardown.mjs',
  maxWorkers: 2,
  // In ESM mode a worker never frees a test file's modules (README, "Tests"): recycle it past this.
  workerIdleMemoryLimit: '300MB',
  testTimeout: 60000,
  projects: [
    {
      ...typescript,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/unit/**/*.spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...(process.env.DATABASE_URL ? unitSpecsWithoutDatabase() : [])],
    },
    { ...typescript, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
  ],
};
