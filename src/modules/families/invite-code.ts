import { randomInt } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { isUniqueViolation } from '../../common/postgres-errors.js';

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

const INVITE_CODE_ATTEMPTS = 8;

/**
 * Runs `work` with a new random code inside `manager`'s transaction, again with another on the
 * (rare) collision with an existing code; savepoints keep the outer transaction usable.
 */
export async function withUniqueInviteCode<T>(manager: EntityManager, work: (code: string) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const code = generateInviteCode();
    await manager.query('SAVEPOINT invite_code');
    try {
      const result = await work(code);
      await manager.query('RELEASE SAVEPOINT invite_code');
      return result;
    } catch (error) {
      await manager.query('ROLLBACK TO SAVEPOINT invite_code');
      if (!isUniqueViolation(error) || attempt >= INVITE_CODE_ATTEMPTS) throw error;
    }
  }
}
