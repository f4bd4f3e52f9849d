import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { getMetadataStorage } from 'class-validator';
import { EnvironmentVariables } from '../../src/config/env.validation.js';

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
});
