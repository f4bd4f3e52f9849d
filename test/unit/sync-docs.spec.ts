import { readFileSync } from 'node:fs';
import { DomainError, ErrorCode } from '../../src/common/errors/domain-error.js';
import { InvalidRequestError } from '../../src/common/errors/invalid-request.js';
import { MAX_BODY_DEPTH, MAX_BODY_VALUES, MAX_OBJECT_KEYS } from '../../src/common/http/refused-body-value.js';
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

describe('README: errors a client can get', () => {
  /** [status, code] of every row of the table (a cell "400 / 415" with "`A` / `B`" is two pairs). */
  function tableRows(): Array<[string, string]> {
    const readme = readFileSync('README.md', 'utf8');
    const start = readme.indexOf('\n### Errors a client can get\n');
    const section = readme.slice(start, readme.indexOf('\n## ', start));
    const pairs: Array<[string, string]> = [];
    for (const line of section.split('\n')) {
      const cells = /^\| ([^|]+) \| ([^|]+) \|/.exec(line);
      if (!cells || cells[1] === 'status' || cells[1].startsWith('---')) continue;
      const statuses = cells[1].split(' / ');
      const codes = cells[2].split(' / ');
      codes.forEach((code, i) => pairs.push([statuses[Math.min(i, statuses.length - 1)], code.replace(/`/g, '')]));
    }
    return pairs;
  }

  it('names only codes the server has, each under a status the server answers it with', () => {
    const rows = tableRows();
    expect(rows.length).toBeGreaterThan(15);
    const wrong = rows.filter(([status, code]) => {
      if (code === '—') return status !== '5xx';
      if (!(Object.values(ErrorCode) as string[]).includes(code)) return true;
      const answered = [new DomainError(code as ErrorCode, '').status];
      if (code === ErrorCode.VALIDATION_FAILED) answered.push(new InvalidRequestError([], '').status); // a request without the route's shape
      if (code === ErrorCode.MALFORMED_REQUEST) answered.push(408); // Node's requestTimeout (unreadable-request.ts)
      return !answered.includes(Number(status));
    });
    expect(wrong).toEqual([]);
  });
});

describe('README: request bodies', () => {
  it('gives the REST body limits the middleware applies, and says a sync push is not held to them (it said every body was)', () => {
    // findRefusedValue runs on every JSON body but the push (body-parser.middleware.ts): a push of 600
    // records holds 1,800 values and is applied; its records are checked by the sync validator (422).
    const readme = readFileSync('README.md', 'utf8');
    const overview = readme.slice(readme.indexOf('\n## API overview\n'), readme.indexOf('\n### Auth\n'));
    const limits = overview.slice(overview.indexOf('A body nested more than'), overview.indexOf('The one exception to the size limit'));
    expect(limits).toContain(`more than ${MAX_BODY_DEPTH} levels deep`);
    expect(limits).toContain(`more than ${MAX_OBJECT_KEYS} properties`);
    expect(limits).toContain(`more than ${MAX_BODY_VALUES.toLocaleString('en-US')} values`);
    expect(limits).toMatch(/a sync push \(`POST \/api\/v1\/sync`\)[^.]*is not held to them/);
  });
});
