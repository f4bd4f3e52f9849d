#!/usr/bin/env node
// `npm run build`, unless dist/ already holds the build of exactly these sources.
//
// `npm start`, `npm test`, `npm run cli`, `npm run bench` and `npm run migration:*` build first, so
// that what runs is the code checked out. A Nest build takes 15–25 s on two cores even when nothing
// changed (it type-checks the whole program with the Swagger plugin: tsc's incremental mode does not
// apply to it), which every `npm run cli -- family:show` paid again. Instead this hashes every input
// of the build (the sources, the migrations, the compiler and Nest settings, package.json for
// postbuild, package-lock.json for the versions of TypeScript and the plugin) and builds only when
// the hash differs from the one the last complete build through here recorded in dist/. `npm run
// build` itself (the Dockerfile's) always builds; it and `npm run start:dev` (which compiles into
// dist/ on every save) remove the record first, so dist/ is never taken for the build of sources it
// was not built from.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where the last complete build through here recorded its inputs' hash (`npm run build` removes it). */
export const STAMP = 'dist/.build-inputs.sha256';
const INPUT_DIRS = ['src', 'migrations'];
const INPUT_FILES = ['ormconfig.ts', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json', 'package.json', 'package-lock.json'];
/** What the entry points need: a dist/ without them is not a build, whatever the stamp says. */
const OUTPUTS = ['dist/main.js', 'dist/cli.js', 'dist/src/main.js', 'dist/src/cli.js'];

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : [];
  });
}

/** One hash over every input's path and bytes, in a fixed order. */
export function buildInputsHash(root) {
  const files = [
    ...INPUT_DIRS.flatMap((dir) => (existsSync(join(root, dir)) ? filesUnder(join(root, dir)) : [])),
    ...INPUT_FILES.map((file) => join(root, file)).filter((file) => existsSync(file)),
  ]
    .map((file) => relative(root, file).split('\\').join('/'))
    .sort();
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(root, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Builds the project at `root` unless its dist/ is the build of its current inputs; answers the exit code. */
export function buildIfChanged(root) {
  const stamp = join(root, STAMP);
  const wanted = buildInputsHash(root);
  const recorded = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : undefined;
  if (recorded === wanted && OUTPUTS.every((file) => existsSync(join(root, file)))) return 0;

  // A build that fails or is interrupted half-way must leave no stamp behind.
  rmSync(stamp, { force: true });
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) return build.status ?? 1;
  // The hash of the inputs as they were before the build: a file edited during it differs next time.
  writeFileSync(`${stamp}.tmp`, `${wanted}\n`);
  renameSync(`${stamp}.tmp`, stamp);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exit(buildIfChanged(resolve(import.meta.dirname, '..')));
}
