import { Inject, Injectable, Optional } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import argon2 from 'argon2';
import { authConfig } from '../../config/configuration.js';
import { normalizePassword } from './password.js';

export interface PasswordHashCost {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** argon2id with the library's defaults (m=64 MiB, t=3, p=4): the default of PASSWORD_HASH_*. */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 65536, timeCost: 3, parallelism: 4 } as const;

/**
 * A password's match with a stored hash: `normalized` (hashed in NFC, as every hash since
 * normalization), `as-typed` (a hash made before normalization, of a password typed in another
 * form: it verifies, and is replaced by a hash of the normalized form), or no match.
 */
export type PasswordMatch = 'normalized' | 'as-typed' | null;

@Injectable()
export class PasswordService {
  private readonly options: typeof ARGON2_OPTIONS | (PasswordHashCost & { type: typeof argon2.argon2id });
  // A real hash of a random string, verified when the email is unknown so that
  // unknown-email and wrong-password answers take the same time.
  private readonly dummyHash: Promise<string>;

  /** `config`: PASSWORD_HASH_* (validated at start-up); without it, ARGON2_OPTIONS. */
  constructor(@Optional() @Inject(authConfig.KEY) config?: Pick<ConfigType<typeof authConfig>, 'passwordHash'>) {
    this.options = config ? { type: argon2.argon2id, ...config.passwordHash } : ARGON2_OPTIONS;
    this.dummyHash = argon2.hash(`dummy-${Math.random()}`, this.options);
  }

  /** New hashes use the configured cost; a stored hash is verified with the cost it was made with. */
  hash(password: string): Promise<string> {
    return argon2.hash(normalizePassword(password), this.options);
  }

  /**
   * Whether a stored hash was made with other parameters than the configured ones (another
   * PASSWORD_HASH_* cost, another argon2 variant or version): after a successful login it is
   * replaced, so a cost change reaches every active account and their login time converges.
   */
  needsRehash(hash: string): boolean {
    if (!hash.startsWith('$argon2id$')) return true;
    const { memoryCost, timeCost, parallelism } = this.options;
    try {
      return argon2.needsRehash(hash, { memoryCost, timeCost, parallelism });
    } catch {
      return true; // unreadable parameters: a fresh hash is the fix (it just verified, so it is argon2)
    }
  }

  async verify(hash: string | undefined, password: string): Promise<boolean> {
    return (await this.match(hash, password)) !== null;
  }

  /**
   * Which form of `password` the hash verifies (PasswordMatch). The normalized form first; the form
   * as typed only when it differs (a hash from before normalization): two verifications then, for
   * an unknown user (the dummy hash) as for a known one, so the time still tells nothing.
   */
  async match(hash: string | undefined, password: string): Promise<PasswordMatch> {
    const normalized = normalizePassword(password);
    const candidates: [string, PasswordMatch][] = [[normalized, 'normalized']];
    if (normalized !== password) candidates.push([password, 'as-typed']);
    const stored = hash || (await this.dummyHash);
    for (const [candidate, match] of candidates) {
      if (await argon2.verify(stored, candidate).catch(() => false)) return hash ? match : null;
    }
    return null;
  }
}
