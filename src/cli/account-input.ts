import type { Readable } from 'node:stream';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { RegisterDto } from '../modules/auth/dto/auth.dto.js';
import { CliError } from './cli-error.js';

/**
 * Checks CLI account options with the very DTO that POST /auth/register
 * validates (email format, password length, invite code shape), so the CLI
 * can never create an account the API would have refused.
 */
export function toRegisterDto(input: { email?: string; password?: string; name?: string; inviteCode?: string }): RegisterDto {
  const dto = plainToInstance(RegisterDto, {
    email: input.email,
    password: input.password,
    ...(input.name !== undefined && { name: input.name }),
    ...(input.inviteCode !== undefined && { invite_code: input.inviteCode }),
  });
  const [first] = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true });
  if (first) {
    const option = first.property === 'invite_code' ? '--invite-code' : `--${first.property}`;
    const message = Object.values(first.constraints ?? {})[0] ?? 'is invalid';
    throw new CliError(`${option}: ${message.replace(/^invite_code /, '').replace(new RegExp(`^${first.property} `), '')}`);
  }
  return dto;
}

/** The password options of user:create, user:reset-password and seed. */
export interface PasswordOptions {
  password?: string;
  passwordStdin?: boolean;
}

/** What --help says of `--password <password>`, after its own description. */
export const PASSWORD_ARGUMENT_WARNING = 'visible to other local users (ps) and kept in shell history: prefer --password-stdin';
export const PASSWORD_STDIN_DESCRIPTION = 'read the password from standard input, piped (all of it, less one trailing newline)';

/**
 * The password of `--password <p>` or, with `--password-stdin`, all of standard
 * input less one trailing "\n" or "\r\n" (what echo, a here-string or
 * `openssl rand -base64` add), nothing else trimmed: a command-line argument is
 * readable by every local user in ps and /proc/<pid>/cmdline and stays in shell
 * history, a pipe is not. Not validated here: the caller passes it to
 * toRegisterDto like a --password, so empty input gets the short-password message.
 * A terminal is refused rather than prompted, so a script never hangs on a prompt.
 */
export async function readPassword(
  options: PasswordOptions,
  { required = false, stdin = process.stdin }: { required?: boolean; stdin?: Readable & { isTTY?: boolean } } = {},
): Promise<string | undefined> {
  if (options.passwordStdin && options.password !== undefined) {
    throw new CliError('--password and --password-stdin cannot be used together (--password-stdin reads it from standard input)');
  }
  if (!options.passwordStdin) {
    if (required && options.password === undefined) throw new CliError("required option '--password <password>' or '--password-stdin' not specified");
    return options.password;
  }
  if (stdin.isTTY) {
    throw new CliError(`--password-stdin reads the password from standard input, which is a terminal here: pipe it in (printf '%s' "$PASSWORD" | … --password-stdin)`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  // Decoded once, whole: a character split between two chunks stays one character.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
