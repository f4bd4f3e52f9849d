import { jest } from '@jest/globals';
import { CliLogger, cliLogLevels } from './cli-logger.js';

describe('CliLogger (both CLIs)', () => {
  const writes = { stdout: [] as string[], stderr: [] as string[] };
  beforeEach(() => {
    writes.stdout = [];
    writes.stderr = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (writes.stdout.push(String(chunk)), true));
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => (writes.stderr.push(String(chunk)), true));
  });
  afterEach(() => jest.restoreAllMocks());

  it('writes every level on stderr, none on stdout (stdout is the command\'s result)', () => {
    const logger = new CliLogger(cliLogLevels('trace'), { isTTY: false });
    logger.warn('using the embedded PostgreSQL of the running app (pid 1)', 'EmbeddedPostgres');
    logger.log('starting', 'EmbeddedPostgres');
    logger.debug('a PostgreSQL line', 'EmbeddedPostgres');
    logger.error('failed', undefined, 'Somewhere');
    jest.restoreAllMocks();
    expect(writes.stdout).toEqual([]);
    expect(writes.stderr.join('')).toMatch(/WARN \[EmbeddedPostgres\] using the embedded PostgreSQL[\s\S]*starting[\s\S]*a PostgreSQL line[\s\S]*failed/);
  });

  it('no colours when stderr is not a terminal; colours on a terminal unless NO_COLOR', () => {
    new CliLogger(['warn'], { isTTY: false }).warn('plain', 'X');
    const noColor = process.env.NO_COLOR;
    delete process.env.NO_COLOR;
    try {
      new CliLogger(['warn'], { isTTY: true }).warn('coloured', 'X');
      process.env.NO_COLOR = '1';
      new CliLogger(['warn'], { isTTY: true }).warn('NO_COLOR', 'X');
    } finally {
      if (noColor === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = noColor;
    }
    jest.restoreAllMocks();
    const [plain, coloured, none] = writes.stderr;
    expect(plain).not.toContain('\x1b[');
    expect(coloured).toContain('\x1b[');
    expect(none).not.toContain('\x1b[');
  });

  // Found by the operator review: files:cleanup's "could not delete an orphaned stored object" came out as
  // `Object(2) { err: Error: EPERM … at … }` over 20 lines, the message last, as if it were a stack.
  it("prints a service's structured entry (fields, message) on one line: message, then fields, an error by its message; the stack from LOG_LEVEL=debug", () => {
    const failure = Object.assign(new Error("EPERM: operation not permitted, unlink '/srv/uploads/f/k'"), { code: 'EPERM' });
    const lines = () => writes.stderr.join('').trimEnd().split('\n');
    new CliLogger(cliLogLevels(undefined), { isTTY: false }).error({ err: failure, key: 'f/k' }, 'could not delete an orphaned stored object', 'FileCleanupService');
    new CliLogger(cliLogLevels(undefined), { isTTY: false }).warn({ durationMs: 1200, familyId: 'f' }, 'slow query', 'TypeORM');
    const quiet = lines();
    writes.stderr = [];
    new CliLogger(cliLogLevels('debug'), { isTTY: false }).error({ err: failure, key: 'f/k' }, 'could not delete an orphaned stored object', 'FileCleanupService');
    const debug = lines();
    jest.restoreAllMocks();
    expect(quiet).toHaveLength(2);
    expect(quiet[0]).toMatch(/ERROR \[FileCleanupService\] could not delete an orphaned stored object \(err: EPERM: operation not permitted, unlink '\/srv\/uploads\/f\/k'; key: f\/k\)$/);
    expect(quiet[1]).toMatch(/WARN \[TypeORM\] slow query \(durationMs: 1200; familyId: f\)$/);
    expect(debug[0]).toMatch(/ERROR \[FileCleanupService\] could not delete an orphaned stored object \(err: EPERM/);
    expect(debug.slice(1).join('\n')).toMatch(/^\s+at /m);
  });

  it.each([
    [undefined, ['warn', 'error', 'fatal']],
    ['info', ['warn', 'error', 'fatal']],
    ['warn', ['warn', 'error', 'fatal']],
    ['error', ['error', 'fatal']],
    ['silent', []],
    ['debug', ['log', 'debug', 'warn', 'error', 'fatal']],
  ])('LOG_LEVEL=%s logs %j (Nest and TypeORM `log` lines only from debug)', (level, expected) => {
    expect(cliLogLevels(level)).toEqual(expected);
  });
});
