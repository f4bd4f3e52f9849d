import { randomInt } from 'node:crypto';

/** No 0/O, 1/I/L: easy to read aloud and type from a screen. */
export const INVITE_CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const INVITE_CODE_LENGTH = 6;

export function generateInviteCode(): string {
  let code = '';
  for (let i = 0; i < INVITE_CODE_LENGTH; i++) code += INVITE_CODE_ALPHABET[randomInt(INVITE_CODE_ALPHABET.length)];
  return code;
}

/** Codes are case-insensitive and typed by people: trim, upper-case. */
export function normalizeInviteCode(input: string): string {
  return input.trim().toUpperCase();
}
