/**
 * Jest in native ESM mode (NestJS 12 is ESM-only): run through `npm test`,
 * which sets NODE_OPTIONS=--experimental-vm-modules.
 */
const tsJest = [
  'ts-jest',
  {
    useESM: true,
    tsconfig: 'tsconfig.json',
    // The same Swagger plugin as `nest build`, so the OpenAPI document under test is the real one.
    astTransformers: {
      before: ['<rootDir>/test/setup/swagger-transformer.cjs'],
    },
  },
];

const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': tsJest },
};

export default {
  globalSetup: '<rootDir>/test/setup/global-setup.mjs',
  globalTeardown: '<rootDir>/test/setup/global-teardown.mjs',
  maxWorkers: 2,
  testTimeout: 60_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/unit/**/*.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
  ],
};
