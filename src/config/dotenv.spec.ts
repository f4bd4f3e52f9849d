import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDotEnv } from './dotenv.js';

describe('loadDotEnv', () => {
  const keys = ['DOTENV_SPEC_A', 'DOTENV_SPEC_B', 'DOTENV_SPEC_C', 'DOTENV_SPEC_D', 'DOTENV_SPEC_E', 'DOTENV_SPEC_F', 'DOTENV_SPEC_G', 'DOTENV_SPEC_H', 'DOTENV_SPEC_I'];
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'hemoday-dotenv-'))));
  afterEach(() => {
    keys.forEach((k) => delete process.env[k]);
    rmSync(dir, { recursive: true, force: true });
  });

  function load(text: string): Record<string, string | undefined> {
    writeFileSync(join(dir, '.env'), text);
    loadDotEnv(join(dir, '.env'));
    return Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  }

  // Found by review: the value kept its trailing blanks (`(.*)\s*$` gave them to the value), and a quoted
  // value followed by a blank kept its quotes: a JWT_SECRET="…" with a blank after it signed with another
  // secret than the same value set in the environment, UPLOAD_DIR=/srv/up # files stored files in
  // "/srv/up # files", silently.
  it('takes the value without the blanks around it, quoted values without their quotes, and drops a comment after an unquoted value', () => {
    const env = load(
      [
        'DOTENV_SPEC_A=0.0.0.0  ',
        'DOTENV_SPEC_B="a secret with blanks inside" ',
        "export DOTENV_SPEC_C = 'single # not a comment'\t",
        'DOTENV_SPEC_D=/srv/hemoday/uploads # where files go',
        'DOTENV_SPEC_E=abc#def',
        '# DOTENV_SPEC_F=commented out',
        'DOTENV_SPEC_G=\r',
        'DOTENV_SPEC_H="quoted" # and a comment',
        'DOTENV_SPEC_I="has "inner" quotes"',
      ].join('\n'),
    );
    expect(env).toEqual({
      DOTENV_SPEC_A: '0.0.0.0',
      DOTENV_SPEC_B: 'a secret with blanks inside',
      DOTENV_SPEC_C: 'single # not a comment',
      DOTENV_SPEC_D: '/srv/hemoday/uploads',
      DOTENV_SPEC_E: 'abc#def', // no blank before #: part of the value (a password, a secret)
      DOTENV_SPEC_F: undefined,
      DOTENV_SPEC_G: '',
      DOTENV_SPEC_H: 'quoted',
      DOTENV_SPEC_I: 'has "inner" quotes',
    });
  });

  // Found by review: the first of two lines naming a variable won, silently. `cp .env.example .env`, then a
  // line appended to change a setting (`echo PORT=4000 >> .env`) was ignored for the example's PORT=3000;
  // docker compose, a shell's `source` and the dotenv package all take the last.
  it('takes the last line of a variable the file names twice', () => {
    expect(load('DOTENV_SPEC_A=3000\nDOTENV_SPEC_B=kept\nDOTENV_SPEC_A=4000\n')).toMatchObject({ DOTENV_SPEC_A: '4000', DOTENV_SPEC_B: 'kept' });
  });

  it('never overrides a variable the environment sets', () => {
    process.env.DOTENV_SPEC_A = 'from the environment';
    expect(load('DOTENV_SPEC_A=from the file\n').DOTENV_SPEC_A).toBe('from the environment');
    expect(load('DOTENV_SPEC_A=from the file\nDOTENV_SPEC_A=again\n').DOTENV_SPEC_A).toBe('from the environment');
  });
});
