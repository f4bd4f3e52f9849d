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
