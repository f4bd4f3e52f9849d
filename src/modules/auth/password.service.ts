import { Injectable } from '@nestjs/common';
import argon2 from 'argon2';

/** argon2id with the library's defaults (m=64 MiB, t=3, p=4): ~90 ms per hash on the CI machines. */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 65536, timeCost: 3, parallelism: 4 } as const;

@Injectable()
export class PasswordService {
  // A real hash of a random string, verified when the email is unknown so that
  // unknown-email and wrong-password answers take the same time.
  private readonly dummyHash = argon2.hash(`dummy-${Math.random()}`, ARGON2_OPTIONS);

  hash(password: string): Promise<string> {
    return argon2.hash(password, ARGON2_OPTIONS);
  }

  async verify(hash: string | undefined, password: string): Promise<boolean> {
    if (!hash) {
      await argon2.verify(await this.dummyHash, password).catch(() => false);
      return false;
    }
    return argon2.verify(hash, password).catch(() => false);
  }
}
