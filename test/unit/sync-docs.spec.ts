import { readFileSync } from 'node:fs';
import { SYNC_COLUMNS_END, SYNC_COLUMNS_START, syncTablesMarkdown } from '../../src/modules/sync/sync-schema.docs.js';

describe('README: synced tables and columns', () => {
  it('lists exactly what the registry accepts (regenerate with syncTablesMarkdown() when a column changes)', () => {
    const readme = readFileSync('README.md', 'utf8');
    const start = readme.indexOf(SYNC_COLUMNS_START);
    const end = readme.indexOf(SYNC_COLUMNS_END);
    expect(start).toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    expect(readme.slice(start + SYNC_COLUMNS_START.length, end).trim()).toBe(syncTablesMarkdown());
  });
});
