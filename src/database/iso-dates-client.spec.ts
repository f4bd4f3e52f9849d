import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options.js';

/**
 * Every pool the app and the CLI make asks for ISO dates in its start-up packet, with a statement
 * deadline (the app) or without (the CLI, migrations). The database-settings e2e spec shows what it
 * is for, on a database set to print other dates.
 */
describe('IsoDatesClient', () => {
  it.each([
    ['without a statement deadline (CLI, migrations)', 0],
    ['with a statement deadline (the app: deadlineClient)', 60],
  ])('a pool %s has DateStyle ISO from its first statement', async (_, statementTimeoutSeconds) => {
    const dataSource = await new DataSource(buildDataSourceOptions(process.env.TEST_DATABASE_URL!, { poolSize: 1, statementTimeoutSeconds })).initialize();
    try {
      const [{ DateStyle: style }] = await dataSource.query('SHOW DateStyle');
      expect(style).toMatch(/^ISO, /);
    } finally {
      await dataSource.destroy();
    }
  });
});
