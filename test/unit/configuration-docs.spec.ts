import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { getMetadataStorage } from 'class-validator';
import { EnvironmentVariables, SECRET_VARIABLES } from '../../src/config/env.validation.js';

/**
 * Every variable the app validates is documented where an operator looks: `.env.example` (set, or
 * commented out with an example) and README's configuration table; and neither lists one the app
 * does not read (a typo there is silently ignored).
 */
describe('configuration docs', () => {
  const known = [...new Set(getMetadataStorage().getTargetValidationMetadatas(EnvironmentVariables, '', true, false).map((m) => m.propertyName))].sort();
  const envExample = readFileSync('.env.example', 'utf8');
  const readme = readFileSync('README.md', 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## API overview'));

  it('.env.example names every variable, and only those', () => {
    const named = [...new Set([...envExample.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]))].sort();
    expect(named).toEqual(known);
  });

  it('README\'s configuration table names every variable, and only those', () => {
    const named = [...new Set([...table.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) => [...m[1].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((v) => v[1])))].sort();
    expect(named).toEqual(known);
  });

  it('README\'s configuration table shows the default of every variable that has one (an S3 row said "—" for two)', () => {
    const defaults = new EnvironmentVariables() as unknown as Record<string, unknown>;
    const rows = [...table.matchAll(/^\| ([^|]+) \| ([^|]+) \|/gm)].map((m) => ({ names: [...m[1].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((v) => v[1]), cell: m[2] }));
    const missing = known
      // The one default the table spells out as names (PDF, JPEG, …) rather than as the value.
      .filter((name) => defaults[name] !== undefined && name !== 'UPLOAD_ALLOWED_TYPES')
      .filter((name) => !rows.some((row) => row.names.includes(name) && row.cell.includes(`\`${String(defaults[name])}\``)))
      .map((name) => `${name}=${String(defaults[name])}`);
    expect(missing).toEqual([]);
  });

  it('README names exactly the variables whose value a start-up error does not repeat', () => {
    const sentence = table.slice(table.indexOf('except for the secrets'), table.indexOf(').', table.indexOf('except for the secrets')));
    const named = [...sentence.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]).sort();
    expect(named).toEqual([...SECRET_VARIABLES].sort());
  });
});
