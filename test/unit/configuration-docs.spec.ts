import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { getMetadataStorage } from 'class-validator';
import { EnvironmentVariables, SECRET_VARIABLES, validateEnv } from '../../src/config/env.validation.js';

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

  /** The lowest and highest value the validation takes, of each variable that has them. */
  const bounds: Record<string, { min?: number; max?: number }> = {};
  for (const m of getMetadataStorage().getTargetValidationMetadatas(EnvironmentVariables, '', true, false)) {
    if (m.name === 'min' || m.name === 'max') (bounds[m.propertyName] ??= {})[m.name] = m.constraints[0] as number;
  }
  /** The ways the docs write a number: 3600, 87,600, 2^50 (its powers of two). */
  const spellings = (n: number) => [String(n), n.toLocaleString('en-US'), ...(Number.isInteger(Math.log2(n)) && n > 2 ** 20 ? [`2^${Math.log2(n)}`] : [])];
  const says = (text: string, n: number) => spellings(n).some((s) => new RegExp(`(^|[^\\d,^])${s.replace('^', '\\^')}(?!\\d|,\\d)`).test(text));
  /** The bounds `textOf(name)` leaves unsaid. Ports: 1 to 65535 goes without saying; UPLOAD_FAMILY_MAX_BYTES's lowest is UPLOAD_MAX_BYTES, which is said. */
  const unstatedBounds = (textOf: (name: string) => string) =>
    Object.entries(bounds)
      .filter(([name]) => !['PORT', 'EMBEDDED_PG_PORT'].includes(name))
      .flatMap(([name, { min, max }]) => [
        ...(min !== undefined && name !== 'UPLOAD_FAMILY_MAX_BYTES' && !says(textOf(name), min) ? [`${name} min ${min}`] : []),
        ...(max !== undefined && !says(textOf(name), max) ? [`${name} max ${max}`] : []),
      ]);

  it('.env.example names every variable, and only those', () => {
    const named = [...new Set([...envExample.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]))].sort();
    expect(named).toEqual(known);
  });

  it('.env.example, copied to .env as it is, is a valid configuration that changes no default (README: "copy .env.example")', () => {
    const set = Object.fromEntries([...envExample.matchAll(/^([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    const env = validateEnv(set) as unknown as Record<string, unknown>;
    const defaults = validateEnv({}) as unknown as Record<string, unknown>;
    const changed = Object.keys(set).filter((name) => JSON.stringify(env[name]) !== JSON.stringify(defaults[name]) && name !== 'DATA_DIR');
    expect(changed).toEqual([]);
    // DATA_DIR has no default in the schema: configuration.ts resolves an unset one to .data.
    expect(set.DATA_DIR).toBe('.data');
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

  it('README\'s configuration table gives the bounds the validation applies (the lowest and highest value taken)', () => {
    const rows = table.split('\n').filter((line) => line.startsWith('| `'));
    expect(unstatedBounds((name) => rows.find((r) => r.split(' | ')[0].includes(`\`${name}\``)) ?? '')).toEqual([]);
  });

  // Found by review: README's table gave every range, .env.example (copied to .env, where values are
  // edited) left out 19 of them: DB_POOL_SIZE's 2 to 500, SYNC_FULL_PULLS_MAX's 1 to 64, …
  it('.env.example gives the same bounds, in the comment above each variable', () => {
    const comments: Record<string, string> = {};
    let comment = '';
    let afterVariable = false;
    for (const line of envExample.split('\n')) {
      const variable = /^#? ?([A-Z][A-Z0-9_]+)=/.exec(line)?.[1];
      if (variable) {
        comments[variable] = comment; // a comment is about the variables right below it
        afterVariable = true;
      } else if (line.startsWith('#')) {
        if (afterVariable) comment = '';
        afterVariable = false;
        comment += ` ${line.slice(1)}`;
      }
    }
    expect(unstatedBounds((name) => comments[name] ?? '')).toEqual([]);
  });

  it('README names exactly the variables whose value a start-up error does not repeat', () => {
    const sentence = table.slice(table.indexOf('except for the secrets'), table.indexOf(').', table.indexOf('except for the secrets')));
    const named = [...sentence.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]).sort();
    expect(named).toEqual([...SECRET_VARIABLES].sort());
  });
});
