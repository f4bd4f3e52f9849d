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

/** Integer option parser for nest-commander @Option handlers. */
export function parseIntegerOption(flag: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    throw new CliError(`${flag} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}
