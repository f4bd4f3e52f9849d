import { jest } from '@jest/globals';
import argon2 from 'argon2';
import { ARGON2_OPTIONS, PasswordService } from './password.service.js';

describe('PasswordService', () => {
  const passwords = new PasswordService();

  it('hashes with argon2id at the configured cost, salted (two hashes of one password differ)', async () => {
    const [a, b] = [await passwords.hash('correct horse battery'), await passwords.hash('correct horse battery')];
    expect(a).toMatch(new RegExp(`^\\$argon2id\\$v=19\\$m=${ARGON2_OPTIONS.memoryCost},t=${ARGON2_OPTIONS.timeCost},p=${ARGON2_OPTIONS.parallelism}\\$`));
    expect(a).not.toBe(b);
    expect(a).not.toContain('correct horse battery');
  });

  it('uses the configured cost (PASSWORD_HASH_*) for new hashes and still verifies hashes of another cost', async () => {
    const cheaper = new PasswordService({ passwordHash: { memoryCost: 19456, timeCost: 2, parallelism: 1 } });
    const hash = await cheaper.hash('correct horse battery');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await passwords.verify(hash, 'correct horse battery')).toBe(true);
    expect(await cheaper.verify(await passwords.hash('correct horse battery'), 'correct horse battery')).toBe(true);
  });

  it('needsRehash: true for a hash of another cost, variant or unreadable parameters; false at the configured cost', async () => {
    const cheaper = new PasswordService({ passwordHash: { memoryCost: 19456, timeCost: 2, parallelism: 1 } });
    const atCost = await cheaper.hash('correct horse battery');
    expect(cheaper.needsRehash(atCost)).toBe(false);
    expect(passwords.needsRehash(atCost)).toBe(true); // the default cost differs
    for (const options of [
      { type: argon2.argon2id, memoryCost: 19456, timeCost: 3, parallelism: 1 },
      { type: argon2.argon2id, memoryCost: 32768, timeCost: 2, parallelism: 1 },
      { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 2 },
      { type: argon2.argon2i, memoryCost: 19456, timeCost: 2, parallelism: 1 },
    ]) {
      expect(cheaper.needsRehash(await argon2.hash('correct horse battery', options))).toBe(true);
    }
    expect(cheaper.needsRehash('$argon2id$v=19$broken')).toBe(true);
  });

  it('verifies the right password only', async () => {
    const hash = await passwords.hash('correct horse battery');
    expect(await passwords.verify(hash, 'correct horse battery')).toBe(true);
    expect(await passwords.verify(hash, 'correct horse battery ')).toBe(false);
    expect(await passwords.verify(hash, 'Correct horse battery')).toBe(false);
    expect(await passwords.verify(hash, '')).toBe(false);
  });

  it('a malformed stored hash is a failed verification, not an exception', async () => {
    expect(await passwords.verify('not-a-hash', 'whatever')).toBe(false);
    expect(await passwords.verify('$argon2id$v=19$m=65536,t=3,p=4$broken', 'whatever')).toBe(false);
  });

  it('an unknown user (no hash) fails after a real argon2 verification, like a wrong password', async () => {
    const verify = jest.spyOn(argon2, 'verify');
    try {
      expect(await passwords.verify(undefined, 'whatever')).toBe(false);
      // The dummy hash was really checked (same work as for a wrong password), with our options.
      expect(verify).toHaveBeenCalledTimes(1);
      const [dummyHash] = verify.mock.calls[0];
      expect(dummyHash).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=4\$/);
    } finally {
      verify.mockRestore();
    }
  });

  describe('Unicode forms (a password is hashed and compared in NFC)', () => {
    const cheap = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
    const passwords = new PasswordService({ passwordHash: cheap });
    const composed = 'Crème brûlée 2024'; // é, è and û as one code point each, as most keyboards type them
    const decomposed = composed.normalize('NFD'); // e + U+0301 …, as some keyboards and password managers send them

    it('one password typed in either form verifies the hash made from the other', async () => {
      expect(decomposed).not.toBe(composed);
      expect(await passwords.match(await passwords.hash(composed), decomposed)).toBe('normalized');
      expect(await passwords.match(await passwords.hash(decomposed), composed)).toBe('normalized');
      expect(await passwords.verify(await passwords.hash(decomposed), 'Creme brulee 2024')).toBe(false);
    });

    it('does not merge what NFKC would (ligatures, superscripts): only canonical forms are one password', async () => {
      expect(await passwords.verify(await passwords.hash('ﬁsh and chips²'), 'fish and chips2')).toBe(false);
    });

    it("a hash made before normalization, of a decomposed password, still verifies it as typed ('as-typed': to be replaced)", async () => {
      const legacy = await argon2.hash(decomposed, { type: argon2.argon2id, ...cheap });
      expect(await passwords.match(legacy, decomposed)).toBe('as-typed');
      expect(await passwords.match(legacy, decomposed + 'x')).toBeNull();
    });

    it('a decomposed password costs two verifications for an unknown user as for a wrong one (the time tells nothing)', async () => {
      const hash = await passwords.hash(composed);
      const verify = jest.spyOn(argon2, 'verify');
      try {
        expect(await passwords.match(undefined, decomposed)).toBeNull();
        expect(verify).toHaveBeenCalledTimes(2);
        verify.mockClear();
        expect(await passwords.match(hash, decomposed + 'x')).toBeNull();
        expect(verify).toHaveBeenCalledTimes(2);
      } finally {
        verify.mockRestore();
      }
    });
  });
});
