/**
 * scripts/build-if-changed.mjs, which `npm start`, `npm test`, `npm run cli` and friends run before
 * dist/: a project of its own in a temporary folder, whose `npm run build` is a small script that
 * counts its runs and writes what a build writes.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain ESM script without types
import { buildIfChanged, STAMP } from '../../scripts/build-if-changed.mjs';

const BUILD = `
const fs = require('node:fs');
if (fs.existsSync('FAIL')) process.exit(3);
fs.mkdirSync('dist/src', { recursive: true });
for (const f of ['dist/main.js', 'dist/cli.js', 'dist/src/main.js', 'dist/src/cli.js']) fs.writeFileSync(f, fs.readFileSync('src/app.ts'));
fs.appendFileSync('builds', 'x');
`;

describe('build-if-changed', () => {
  let root: string;
  const builds = () => (existsSync(join(root, 'builds')) ? readFileSync(join(root, 'builds'), 'utf8').length : 0);
  const write = (file: string, text: string) => writeFileSync(join(root, file), text);
  const run = () => buildIfChanged(root) as number;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'hemoday-build-if-changed-'));
    mkdirSync(join(root, 'src'));
    mkdirSync(join(root, 'migrations'));
    write('package.json', JSON.stringify({ name: 'probe', private: true, scripts: { build: 'node build.cjs' } }));
    write('build.cjs', BUILD);
    write('src/app.ts', 'one');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('builds a checkout without dist/, then not again until an input changes', () => {
    expect(run()).toBe(0);
    expect(builds()).toBe(1);
    expect(existsSync(join(root, STAMP))).toBe(true);
    expect(run()).toBe(0);
    expect(builds()).toBe(1);

    write('src/app.ts', 'two'); // a source
    expect(run()).toBe(0);
    expect(builds()).toBe(2);
    expect(readFileSync(join(root, 'dist/src/main.js'), 'utf8')).toBe('two');

    mkdirSync(join(root, 'src/deeper'));
    write('src/deeper/new.ts', ''); // a new file, even empty
    write('migrations/1-init.ts', 'x'); // a migration
    expect(run()).toBe(0);
    expect(builds()).toBe(3);

    write('tsconfig.json', '{}'); // a compiler setting
    expect(run()).toBe(0);
    write('package-lock.json', '{}'); // dependency versions
    expect(run()).toBe(0);
    expect(builds()).toBe(5);
    expect(run()).toBe(0);
    expect(builds()).toBe(5);
  });

  it('builds again when an entry point is missing, or the stamp was removed (npm run build, start:dev)', () => {
    run();
    rmSync(join(root, 'dist/cli.js'));
    run();
    expect(builds()).toBe(2);
    rmSync(join(root, STAMP));
    run();
    expect(builds()).toBe(3);
  });

  it('a failing build answers its exit code and leaves no stamp: the next run builds', () => {
    run();
    write('src/app.ts', 'two');
    write('FAIL', '');
    expect(run()).toBe(3);
    expect(existsSync(join(root, STAMP))).toBe(false);
    rmSync(join(root, 'FAIL'));
    expect(run()).toBe(0);
    expect(builds()).toBe(2);
    expect(readFileSync(join(root, 'dist/src/main.js'), 'utf8')).toBe('two');
  });

  it("this project: every script that runs dist/ builds through it; npm run build and start:dev remove the stamp first", () => {
    const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(scripts.prebuild).toBe(`rm -f ${STAMP}`);
    expect(scripts['start:dev']).toMatch(new RegExp(`^rm -f ${STAMP.replace(/\./g, '\\.')} && nest start --watch$`));
    for (const name of ['start', 'cli', 'pretest', 'bench', 'bench:short', 'migration:run', 'migration:revert', 'migration:show', 'migration:generate']) {
      expect([name, scripts[name]]).toEqual([name, expect.stringMatching(/^node scripts\/build-if-changed\.mjs( && |$)/)]);
    }
    expect(Object.entries(scripts).filter(([, s]) => s.includes('npm run build'))).toEqual([]);
  });
});
