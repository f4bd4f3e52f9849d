import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options.js';

/**
 * Every pool the app and the CLI make asks for exact float output in its start-up packet, with a
 * statement deadline (the app) or without (the CLI, migrations). The database-settings e2e spec shows
 * what it is for, on a database set to print 15 digits.
 */
describe('ExactFloatsClient', () => {
  it.each([
    ['without a statement deadline (CLI, migrations)', 0],
    ['with a statement deadline (the app: deadlineClient)', 60],
  ])('a pool %s has extra_float_digits = 3 from its first statement', async (_, statementTimeoutSeconds) => {
    const dataSource = await new DataSource(buildDataSourceOptions(process.env.TEST_DATABASE_URL!, { poolSize: 1, statementTimeoutSeconds })).initialize();
    try {
      expect(await dataSource.query('SHOW extra_float_digits')).toEqual([{ extra_float_digits: '3' }]);
    } finally {
      await dataSource.destroy();
    }
  });
});
