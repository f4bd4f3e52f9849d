import { jest } from '@jest/globals';
import argon2 from 'argon2';
import { createServiceKit, unitEmail, type ServiceKit, domainFailure as failure } from '../../../test/factories/services.factory.js';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { UserEntity } from './entities/user.entity.js';
import { FamilyEntity } from '../families/entities/family.entity.js';

const PASSWORD = 'correct horse battery';

/** AuthService over the run's real PostgreSQL (see test/factories/services.factory.ts). */
describe('AuthService', () => {
  let kit: ServiceKit;
  beforeAll(async () => (kit = await createServiceKit()));
  afterAll(() => kit?.close());

  const userRow = (id: string) => kit.dataSource.getRepository(UserEntity).findOneByOrFail({ id });
  const familyRow = (id: string) => kit.dataSource.getRepository(FamilyEntity).findOneByOrFail({ id });
  /** The code of a family someone is in (never NULL). */
  const codeOf = async (familyId: string) => (await familyRow(familyId)).inviteCode!;
  const register = (email = unitEmail(), extra: { invite_code?: string; name?: string } = {}) => kit.auth.register({ email, password: PASSWORD, ...extra });

  describe('register', () => {
    it('without an invite code: a new family with the user as its owner and creator', async () => {
      const email = unitEmail('owner');
      const res = await register(email, { name: 'Leila' });
      expect(res.user).toMatchObject({ email, name: 'Leila', role: 'owner', family_id: expect.any(String) });
      const family = await familyRow(res.user.family_id!);
      expect(family).toMatchObject({ createdBy: res.user.id, updatedBy: res.user.id, inviteCode: expect.stringMatching(/^[A-HJKMNP-Z2-9]{6}$/) });
      const user = await userRow(res.user.id);
      expect(user.passwordHash).toMatch(/^\$argon2id\$/);
      expect(user.familyJoinedVersion).toBe(family.syncVersion);
      expect(res.access_token).toEqual(expect.any(String));
      expect(res.refresh_token).toMatch(/^[0-9a-f-]{36}\.[\w-]+$/);
    });

    it('with an invite code: joins that family as a member, at a version above its current one', async () => {
      const owner = await register();
      const before = await familyRow(owner.user.family_id!);
      const member = await register(unitEmail('member'), { invite_code: ` ${before.inviteCode!.toLowerCase()} ` });
      expect(member.user).toMatchObject({ role: 'member', family_id: owner.user.family_id });
      const after = await familyRow(owner.user.family_id!);
      expect(after.syncVersion).toBeGreaterThan(before.syncVersion);
      expect((await userRow(member.user.id)).familyJoinedVersion).toBe(after.syncVersion);
      // No second family was made.
      const [{ n }] = await kit.dataSource.query('SELECT count(*)::int AS n FROM families WHERE created_by = $1', [member.user.id]);
      expect(n).toBe(0);
    });

    it('with an unknown invite code: INVITE_CODE_INVALID (404) and no account', async () => {
      const email = unitEmail();
      const error = await failure(() => register(email, { invite_code: '222222' }));
      expect([error.code, error.status]).toEqual([ErrorCode.INVITE_CODE_INVALID, 404]);
      expect(await kit.auth.findByEmail(email)).toBeNull();
    });

    it('a duplicate email is EMAIL_TAKEN (409), in any case or Unicode form, also when joining', async () => {
      const email = unitEmail('Dup-Ä');
      const first = await register(email);
      const owner = await register();
      const code = await codeOf(owner.user.family_id!);
      for (const again of [email, email.toUpperCase(), ` ${email.normalize('NFD')} `]) {
        const error = await failure(() => register(again));
        expect([error.code, error.status]).toEqual([ErrorCode.EMAIL_TAKEN, 409]);
      }
      expect((await failure(() => register(email, { invite_code: code }))).code).toBe(ErrorCode.EMAIL_TAKEN);
      expect((await kit.auth.findByEmail(email.toUpperCase()))!.id).toBe(first.user.id);
    });

    it('two registrations of one email racing past the look-up: one account, the other EMAIL_TAKEN', async () => {
      const email = unitEmail('race');
      const results = await Promise.allSettled([register(email), register(email.toUpperCase()), register(` ${email}`)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results.filter((x): x is PromiseRejectedResult => x.status === 'rejected')) {
        expect((r.reason as DomainError).code).toBe(ErrorCode.EMAIL_TAKEN);
      }
      const [{ n }] = await kit.dataSource.query('SELECT count(*)::int AS n FROM users WHERE email = $1', [email.toLowerCase()]);
      expect(n).toBe(1);
    });
  });

  describe('login', () => {
    it('the right password signs in, whatever the email case', async () => {
      const email = unitEmail();
      const reg = await register(email);
      const res = await kit.auth.login({ email: `  ${email.toUpperCase()}`, password: PASSWORD });
      expect(res.user.id).toBe(reg.user.id);
      expect(res.refresh_token).not.toBe(reg.refresh_token);
    });

    it('wrong password and unknown email fail alike: same code, status and message', async () => {
      const email = unitEmail();
      await register(email);
      const wrong = await failure(() => kit.auth.login({ email, password: 'not the password' }));
      const unknown = await failure(() => kit.auth.login({ email: unitEmail('ghost'), password: PASSWORD }));
      expect([wrong.code, wrong.status, wrong.message]).toEqual([ErrorCode.INVALID_CREDENTIALS, 401, 'Invalid email or password']);
      expect([unknown.code, unknown.status, unknown.message]).toEqual([wrong.code, wrong.status, wrong.message]);
      expect(unknown.details).toEqual(wrong.details);
    });

    describe('rehash when the stored hash has other parameters than PASSWORD_HASH_*', () => {
      const configured = () => {
        const { memoryCost: m, timeCost: t, parallelism: p } = kit.config.passwordHash;
        return new RegExp(`^\\$argon2id\\$v=19\\$m=${m},t=${t},p=${p}\\$`);
      };
      const storedHash = async (id: string) => (await userRow(id)).passwordHash;
      const setHash = (id: string, hash: string) => kit.dataSource.query('UPDATE users SET password_hash = $1 WHERE id = $2', [hash, id]);

      it.each([
        ['another cost', { type: argon2.argon2id, memoryCost: 19456, timeCost: 3, parallelism: 1 }],
        ['another variant (argon2i)', { type: argon2.argon2i, memoryCost: 19456, timeCost: 2, parallelism: 1 }],
      ])('a successful login replaces a hash of %s by one at the configured cost', async (_, options) => {
        const email = unitEmail('rehash');
        const reg = await register(email);
        const old = await argon2.hash(PASSWORD, options);
        await setHash(reg.user.id, old);
        await kit.auth.login({ email, password: PASSWORD });
        const now = await storedHash(reg.user.id);
        expect(now).not.toBe(old);
        expect(now).toMatch(configured());
        expect(kit.passwords.needsRehash(now)).toBe(false);
        // The same password still signs in, now with the new hash (which is then left alone).
        await kit.auth.login({ email, password: PASSWORD });
        expect(await storedHash(reg.user.id)).toBe(now);
      });

      it('a failed login does not rehash; a hash at the configured cost is never rewritten', async () => {
        const email = unitEmail('rehash-no');
        const reg = await register(email);
        const current = await storedHash(reg.user.id);
        expect(current).toMatch(configured());
        await kit.auth.login({ email, password: PASSWORD });
        expect(await storedHash(reg.user.id)).toBe(current);
        const old = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 19456, timeCost: 3, parallelism: 1 });
        await setHash(reg.user.id, old);
        await failure(() => kit.auth.login({ email, password: 'not the password' }));
        expect(await storedHash(reg.user.id)).toBe(old);
      });
    });
  });

  describe('joinFamily', () => {
    it('a lone owner moves in as a member; the family left keeps its rows but its code is retired', async () => {
      const mover = await register();
      const target = await register();
      const oldFamily = await familyRow(mover.user.family_id!);
      const targetCode = await codeOf(target.user.family_id!);
      const me = await kit.auth.joinFamily(mover.user.id, targetCode);
      expect(me.user).toMatchObject({ family_id: target.user.family_id, role: 'member' });
      const left = await familyRow(oldFamily.id);
      // Nobody is left in it: it has no invite code any more.
      expect(left.inviteCode).toBeNull();
    });

    it('an owner with members cannot leave (409), nor can anyone join the family they are in', async () => {
      const owner = await register();
      const code = await codeOf(owner.user.family_id!);
      const member = await register(unitEmail(), { invite_code: code });
      const elsewhere = await codeOf((await register()).user.family_id!);
      const leaving = await failure(() => kit.auth.joinFamily(owner.user.id, elsewhere));
      expect([leaving.code, leaving.status]).toEqual([ErrorCode.OWNER_HAS_MEMBERS, 409]);
      const same = await failure(() => kit.auth.joinFamily(member.user.id, code));
      expect([same.code, same.status]).toEqual([ErrorCode.ALREADY_IN_FAMILY, 409]);
      expect(await userRow(owner.user.id)).toMatchObject({ familyId: owner.user.family_id, role: 'owner' });
    });

    it('an unknown code is INVITE_CODE_INVALID and nothing moves', async () => {
      const user = await register();
      expect((await failure(() => kit.auth.joinFamily(user.user.id, '222222'))).code).toBe(ErrorCode.INVITE_CODE_INVALID);
      expect((await userRow(user.user.id)).familyId).toBe(user.user.family_id);
    });
  });

  /** Holds the next password checks right after argon2 answered, until `resume()`: the window of a login or a change. */
  function holdAfterPasswordCheck() {
    // `match`: what login checks with, and what `verify` (the other routes') calls.
    const match = kit.passwords.match.bind(kit.passwords);
    let checked!: () => void;
    let resume!: () => void;
    const atCheck = new Promise<void>((r) => (checked = r));
    const resumed = new Promise<void>((r) => (resume = r));
    const spy = jest.spyOn(kit.passwords, 'match').mockImplementation(async (...args) => {
      const ok = await match(...args);
      checked();
      await resumed;
      return ok;
    });
    return { atCheck, resume, spy };
  }

  describe('resetPassword', () => {
    it('sets the new password and revokes every refresh token of the user', async () => {
      const email = unitEmail();
      const reg = await register(email);
      await kit.auth.login({ email, password: PASSWORD });
      await kit.auth.resetPassword(email.toUpperCase(), 'a brand new password');
      await expect(kit.auth.login({ email, password: PASSWORD })).rejects.toMatchObject({ code: ErrorCode.INVALID_CREDENTIALS });
      await kit.auth.login({ email, password: 'a brand new password' });
      const [{ live }] = await kit.dataSource.query('SELECT count(*)::int AS live FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [reg.user.id]);
      expect(live).toBe(1); // only the sign-in made after the reset
      await expect(kit.auth.refresh(reg.refresh_token)).rejects.toMatchObject({ code: ErrorCode.INVALID_REFRESH_TOKEN });
    });

    it('an unknown email is NOT_FOUND', async () => {
      expect((await failure(() => kit.auth.resetPassword(unitEmail('nobody'), 'whatever long'))).code).toBe(ErrorCode.NOT_FOUND);
    });

    it('a login with the old password that was verifying while the reset committed gets no sign-in', async () => {
      const email = unitEmail('reset-race');
      const reg = await register(email);
      // Hold the login right after its password check succeeded (argon2 takes a while: a real window).
      const { atCheck, resume, spy } = holdAfterPasswordCheck();
      try {
        const login = kit.auth.login({ email, password: PASSWORD });
        await atCheck;
        await kit.auth.resetPassword(email, 'a brand new password');
        resume();
        await expect(login).rejects.toMatchObject({ code: ErrorCode.INVALID_CREDENTIALS });
      } finally {
        spy.mockRestore();
      }
      const [{ live }] = await kit.dataSource.query('SELECT count(*)::int AS live FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [reg.user.id]);
      expect(live).toBe(0);
    });
  });
  describe('changePassword', () => {
    const liveTokens = async (userId: string): Promise<number> =>
      (await kit.dataSource.query('SELECT count(*)::int AS live FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [userId]))[0].live;

    it('stores the new password, revokes every earlier refresh token and answers the one live sign-in', async () => {
      const email = unitEmail('change');
      const reg = await register(email);
      await kit.auth.login({ email, password: PASSWORD });
      const res = await kit.auth.changePassword(reg.user.id, { current_password: PASSWORD, new_password: 'a brand new password' });
      expect(res).toMatchObject({ token_type: 'Bearer', user: reg.user });
      expect(await liveTokens(reg.user.id)).toBe(1);
      await kit.auth.refresh(res.refresh_token);
      await expect(kit.auth.refresh(reg.refresh_token)).rejects.toMatchObject({ code: ErrorCode.INVALID_REFRESH_TOKEN });
      await expect(kit.auth.login({ email, password: PASSWORD })).rejects.toMatchObject({ code: ErrorCode.INVALID_CREDENTIALS });
      await kit.auth.login({ email, password: 'a brand new password' });
      expect((await userRow(reg.user.id)).tokensValidAfter).toBeInstanceOf(Date);
    });

    it('a change whose password check passed while a reset committed changes nothing (INVALID_CREDENTIALS): the reset stands', async () => {
      const email = unitEmail('change-race');
      const reg = await register(email);
      const { atCheck, resume, spy } = holdAfterPasswordCheck();
      try {
        const changing = kit.auth.changePassword(reg.user.id, { current_password: PASSWORD, new_password: 'the thief password' });
        await atCheck;
        spy.mockRestore();
        await kit.auth.resetPassword(email, 'the admin password');
        resume();
        const error = await failure(() => changing);
        expect([error.code, error.status]).toEqual([ErrorCode.INVALID_CREDENTIALS, 401]);
      } finally {
        spy.mockRestore();
        resume();
      }
      await kit.auth.login({ email, password: 'the admin password' });
      await expect(kit.auth.login({ email, password: 'the thief password' })).rejects.toMatchObject({ code: ErrorCode.INVALID_CREDENTIALS });
      expect(await liveTokens(reg.user.id)).toBe(1); // the login just made
    });
  });
});
