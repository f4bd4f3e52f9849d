import { Transform } from 'class-transformer';
import { IsEmail, IsNotEmpty, IsOptional, IsString, Length, Matches, MaxLength, MinLength, ValidateBy, type ValidationArguments } from 'class-validator';
import { MaxCharacters } from '../../../common/http/max-characters.js';
import { emailCharacterProblem, normalizeEmail } from '../email.js';
import { normalizePassword } from '../password.js';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);
/** Validated (format, length) in the form it is stored in. */
const toStoredEmail = ({ value }: { value: unknown }) => (typeof value === 'string' ? normalizeEmail(value) : value);
/** emailCharacterProblem on every DTO that takes an email (400 VALIDATION_FAILED naming the field); a non-string is IsEmail's. */
const EmailCharacters = () =>
  ValidateBy({
    name: 'emailCharacters',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || emailCharacterProblem(value) === undefined,
      defaultMessage: (args?: ValidationArguments) => `${args?.property ?? 'email'} ${emailCharacterProblem(String(args?.value)) ?? 'is invalid'}`,
    },
  });

const PASSWORD_MIN_LENGTH = 8;
/**
 * A new password is validated in the form it is hashed in (NFC, normalizePassword): its length is
 * the length of the password stored. As typed, `é` decomposed (e + U+0301) counted two characters,
 * and four of them passed as 8 for a 4-character password. A password checked against a stored
 * hash (login, current_password) stays as typed: PasswordService tries that form for hashes made
 * before normalization.
 */
const toStoredPassword = ({ value }: { value: unknown }) => (typeof value === 'string' ? normalizePassword(value) : value);
/** The longest password taken (register, login and every route that checks one). */
export const PASSWORD_MAX_LENGTH = 256;

export class RegisterDto {
  /** Trimmed, Unicode-normalized and lower-cased before use: `Leila@Example.com` and `leila@example.com` are one account. Control characters, line breaks, bidi controls, invisible characters (zero-width, soft hyphen) and compatibility characters (ligatures, full-width letters) are refused (400), quoted or not. @example parent@example.com */
  @Transform(toStoredEmail) @IsEmail() @EmailCharacters() @MaxLength(320)
  email: string;

  /** At least 8 characters (in Unicode NFC, the form it is hashed in). @example correct-horse-battery */
  @Transform(toStoredPassword) @IsString() @MinLength(PASSWORD_MIN_LENGTH) @MaxLength(PASSWORD_MAX_LENGTH)
  password: string;

  /** At most 200 characters (code points, as the column counts them). @example Leila */
  @IsOptional() @Transform(trim) @IsString() @MaxCharacters(200)
  name?: string;

  /** Join this family instead of creating a new one. @example K7MX2Q */
  @IsOptional() @Transform(trim) @IsString() @Length(6, 6) @Matches(/^[A-Za-z0-9]{6}$/)
  invite_code?: string;
}

export class LoginDto {
  /** Trimmed, Unicode-normalized and lower-cased before use: `Leila@Example.com` and `leila@example.com` are one account. Control characters, line breaks, bidi controls, invisible characters (zero-width, soft hyphen) and compatibility characters (ligatures, full-width letters) are refused (400), quoted or not. @example parent@example.com */
  @Transform(toStoredEmail) @IsEmail() @EmailCharacters() @MaxLength(320)
  email: string;

  /** The account's password, as typed (not trimmed). @example correct-horse-battery */
  @IsString() @IsNotEmpty() @MaxLength(PASSWORD_MAX_LENGTH)
  password: string;
}

export class JoinFamilyDto {
  /** @example K7MX2Q */
  @Transform(trim) @IsString() @Length(6, 6) @Matches(/^[A-Za-z0-9]{6}$/)
  invite_code: string;
}

export class RefreshDto {
  /**
   * The refresh token of the last login or refresh (`<uuid>.<secret>`, opaque to the app). Single use:
   * the answer carries the next one. Bounded loosely (2,048): anything that is not a refresh token
   * — an access token sent by mistake — is an invalid refresh token (401), which tells the app to sign in
   * again, not a 400 that reads as its own bug. @example 0b6f1c2e-5d4a-4f3b-9a8e-7c6d5e4f3a2b.5wLgjLPH3Af3EddeWw5g5tz0SI0IJpcZPAJOG7rTcPI
   */
  @IsString() @IsNotEmpty() @MaxLength(2048)
  refresh_token: string;
}

export class DeleteAccountDto {
  /** The account's password, as typed: deleting an account takes it, not only a signed-in phone. @example correct-horse-battery */
  @IsString() @IsNotEmpty() @MaxLength(PASSWORD_MAX_LENGTH)
  password: string;
}

export class ChangePasswordDto {
  /** The account's password now, as typed (not trimmed), checked like a login's. @example correct-horse-battery */
  @IsString() @IsNotEmpty() @MaxLength(PASSWORD_MAX_LENGTH)
  current_password: string;

  /** At least 8 characters, as at registration; must differ from `current_password`. @example a-new-horse-battery-staple */
  @Transform(toStoredPassword) @IsString() @MinLength(PASSWORD_MIN_LENGTH) @MaxLength(PASSWORD_MAX_LENGTH)
  new_password: string;
}

export class ForgotPasswordDto {
  /** The account's email, normalized and checked as at login. Whether or not an account has it, the answer is the same. @example parent@example.com */
  @Transform(toStoredEmail) @IsEmail() @EmailCharacters() @MaxLength(320)
  email: string;
}

export class ResetPasswordDto {
  /**
   * The token of the emailed link (its `{token}` part: 43 base64url characters), as received.
   * @example 5wLgjLPH3Af3EddeWw5g5tz0SI0IJpcZPAJOG7rTcPI
   */
  @IsString() @IsNotEmpty() @MaxLength(200)
  token: string;

  /** At least 8 characters, as at registration. @example a-new-horse-battery-staple */
  @Transform(toStoredPassword) @IsString() @MinLength(PASSWORD_MIN_LENGTH) @MaxLength(PASSWORD_MAX_LENGTH)
  new_password: string;
}
