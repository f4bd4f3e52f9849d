import { readFileSync } from 'node:fs';
import { SYNC_COLUMNS_END, SYNC_COLUMNS_START, syncTablesMarkdown } from '../../src/modules/sync/sync-schema.docs.js';
import { SYNC_TABLE_BY_NAME } from '../../src/modules/sync/sync-schema.js';
import { Invalid, normalizeValue } from '../../src/modules/sync/sync-validator.js';

describe('README: synced tables and columns', () => {
  it('lists exactly what the registry accepts (regenerate with syncTablesMarkdown() when a column changes)', () => {
    const readme = readFileSync('README.md', 'utf8');
    const start = readme.indexOf(SYNC_COLUMNS_START);
    const end = readme.indexOf(SYNC_COLUMNS_END);
    expect(start).toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    expect(readme.slice(start + SYNC_COLUMNS_START.length, end).trim()).toBe(syncTablesMarkdown());
  });

  it('a column it calls plainly "required" ("present and not null") is one whose null a push refuses (indicators_json took null as [])', () => {
    const plainlyRequired: string[] = [];
    let table = '';
    for (const line of syncTablesMarkdown().split('\n')) {
      table = /^\*\*`(\w+)`\*\*/.exec(line)?.[1] ?? table;
      const row = /^\| `(\w+)`.*\| required \|$/.exec(line);
      const spec = row && SYNC_TABLE_BY_NAME.get(table)?.columns.find((c) => c.name === row[1]);
      if (spec) plainlyRequired.push(`${table}.${spec.name}: ${normalizeValue(spec, null) instanceof Invalid ? 'refused' : 'accepted'}`);
    }
    expect(plainlyRequired.length).toBeGreaterThan(5);
    expect(plainlyRequired.filter((line) => line.endsWith('accepted'))).toEqual([]);
  });
});
