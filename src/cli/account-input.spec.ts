import { Readable } from 'node:stream';
import { readPassword, toRegisterDto } from './account-input.js';

/** A piped standard input carrying these chunks (or a terminal, which carries nothing). */
function stdin(chunks: Array<string | Buffer>, isTTY = false): Readable & { isTTY?: boolean } {
  return Object.assign(Readable.from(chunks), { isTTY });
}

describe('readPassword', () => {
  it('--password: the argument as given, standard input untouched', async () => {
    const input = stdin(['never read']);
    expect(await readPassword({ password: ' as given ' }, { stdin: input })).toBe(' as given ');
    expect(input.readableDidRead).toBe(false);
  });

  it.each([
    ['one trailing newline removed', ['long enough\n'], 'long enough'],
    ['one trailing CRLF removed', ['long enough\r\n'], 'long enough'],
    ['only one line break removed', ['long enough\n\n'], 'long enough\n'],
    ['nothing else trimmed: spaces, tabs, a lone CR', [' long\tenough \r'], ' long\tenough \r'],
    ['no newline at all (printf %s)', ['long enough'], 'long enough'],
    ['inner line breaks kept', ['two\nlines\n'], 'two\nlines'],
    ['a character split between chunks', [Buffer.from([0x6d, 0xc3]), Buffer.from([0xa9, 0x64, 0x65, 0x63, 0x69, 0x6e, 0x0a])], 'médecin'],
  ])('--password-stdin: %s', async (_what, chunks, password) => {
    expect(await readPassword({ passwordStdin: true }, { stdin: stdin(chunks) })).toBe(password);
  });

  it('empty input: the message of an empty --password, from the one rule', async () => {
    const short = (password: string | undefined) => () => toRegisterDto({ email: 'a@b.example', password });
    const expected = '--password: must be longer than or equal to 8 characters';
    expect(short('')).toThrow(expected);
    expect(short(await readPassword({ passwordStdin: true }, { stdin: stdin([]) }))).toThrow(expected);
    expect(short(await readPassword({ passwordStdin: true }, { stdin: stdin(['\n']) }))).toThrow(expected);
  });

  it('both flags: refused before standard input is read', async () => {
    const input = stdin(['long enough\n']);
    await expect(readPassword({ password: 'long enough', passwordStdin: true }, { stdin: input })).rejects.toThrow(
      '--password and --password-stdin cannot be used together',
    );
    expect(input.readableDidRead).toBe(false);
  });

  it('a terminal: refused with how to pipe it, never prompted', async () => {
    await expect(readPassword({ passwordStdin: true }, { stdin: stdin([], true) })).rejects.toThrow(
      /^--password-stdin reads the password from standard input, which is a terminal here: pipe it in \(printf '%s' "\$PASSWORD" \| … --password-stdin\)$/,
    );
  });

  it('neither flag: undefined (seed has a default), or the required-option message', async () => {
    expect(await readPassword({}, { stdin: stdin([]) })).toBeUndefined();
    await expect(readPassword({}, { required: true, stdin: stdin([]) })).rejects.toThrow("required option '--password <password>' or '--password-stdin' not specified");
  });
});

describe('toRegisterDto (the CLI options user:create, user:reset-password and seed check)', () => {
  it('refuses an email with control characters as POST /auth/register does, naming --email', () => {
    expect(() => toRegisterDto({ email: '"\x1b]0;pwned\x07"@example.test', password: 'long enough' })).toThrow(
      '--email: must not contain control characters, line breaks or bidirectional-text controls',
    );
    expect(() => toRegisterDto({ email: '"a\r\nb"@example.test', password: 'long enough' })).toThrow(/^--email: must not contain control characters/);
  });

  // Found by mutation testing: the DTO's field name leaking into the message (`--invite_code: …`) failed no test.
  it('names a bad invite code by the option the operator typed, --invite-code, not the API field', () => {
    const run = () => toRegisterDto({ email: 'a@b.example', password: 'long enough', inviteCode: 'ab' });
    expect(run).toThrow(/^--invite-code: must match /);
    expect(run).not.toThrow(/invite_code/);
  });

  it('accepts a quoted local part without them, normalized', () => {
    expect(toRegisterDto({ email: ' "John Doe"@Example.test ', password: 'long enough' }).email).toBe('"john doe"@example.test');
  });
});
