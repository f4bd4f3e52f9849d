import { jest } from '@jest/globals';
import type { EntityManager } from 'typeorm';
import { createServiceKit, unitEmail, type ServiceKit, domainFailure as failure } from '../../../test/factories/services.factory.js';
import { ErrorCode } from '../../common/errors/domain-error.js';
import { UserEntity } from '../auth/entities/user.entity.js';
import { FamilyEntity } from './entities/family.entity.js';
import { withUniqueInviteCode } from './invite-code.js';

/** FamiliesService over the run's real PostgreSQL, each test in families of its own. */
describe('FamiliesService', () => {
  let kit: ServiceKit;
  beforeAll(async () => (kit = await createServiceKit()));
  afterAll(() => kit?.close());

  interface Member {
    id: string;
    familyId: string;
    refreshToken: string;
  }
  const register = async (inviteCode?: string): Promise<Member> => {
    const res = await kit.auth.register({ email: unitEmail('fam'), password: 'correct horse battery', ...(inviteCode && { invite_code: inviteCode }) });
    return { id: res.user.id, familyId: res.user.family_id!, refreshToken: res.refresh_token };
  };
  const family = (id: string) => kit.dataSource.getRepository(FamilyEntity).findOneByOrFail({ id });
  const user = (id: string) => kit.dataSource.getRepository(UserEntity).findOneByOrFail({ id });
  const familyWithMembers = async (extra = 1) => {
    const owner = await register();
    const code = (await family(owner.familyId)).inviteCode!;
    const members: Member[] = [];
    for (let i = 0; i < extra; i++) members.push(await register(code));
    return { owner, members, code };
  };

  describe('owner-only operations', () => {
    it('a member may not regenerate the code nor remove anyone (OWNER_ONLY, 403); nothing changes', async () => {
      const { owner, members, code } = await familyWithMembers(2);
      const before = await family(owner.familyId);
      for (const work of [() => kit.families.regenerateInviteCode(), () => kit.families.removeMember(members[1].id), () => kit.families.removeMember(owner.id)]) {
        const error = await kit.as(members[0].id, () => failure(work));
        expect([error.code, error.status]).toEqual([ErrorCode.OWNER_ONLY, 403]);
      }
      expect(await family(owner.familyId)).toEqual(before);
      expect((await user(members[1].id)).familyId).toBe(owner.familyId);
      expect(code).toBe(before.inviteCode);
    });

    it('the owner regenerates the code: a new one, the version bumped', async () => {
      const { owner, code } = await familyWithMembers(0);
      const before = await family(owner.familyId);
      const { invite_code } = await kit.as(owner.id, () => kit.families.regenerateInviteCode());
      const after = await family(owner.familyId);
      expect(invite_code).not.toBe(code);
      expect(after.inviteCode).toBe(invite_code);
      expect(after.syncVersion).toBeGreaterThan(before.syncVersion);
      expect(after.serverVersion).toBe(after.syncVersion);
      expect(after.updatedBy).toBe(owner.id);
    });

    it('the owner removes a member: detached, every refresh token revoked, invite code replaced, version bumped', async () => {
      const { owner, members, code } = await familyWithMembers(1);
      const [member] = members;
      const before = await family(owner.familyId);
      await kit.as(owner.id, () => kit.families.removeMember(member.id));
      expect(await user(member.id)).toMatchObject({ familyId: null, role: null });
      const [{ live }] = await kit.dataSource.query('SELECT count(*)::int AS live FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [member.id]);
      expect(live).toBe(0);
      const after = await family(owner.familyId);
      expect(after.syncVersion).toBeGreaterThan(before.syncVersion);
      // The version they left at: above every cursor their phones got from the family (their next join is taken above it).
      expect((await user(member.id)).familyJoinedVersion).toBe(after.syncVersion);
      // The removed member knew the code: it is replaced in the same write, so devices pull the new one.
      expect(after.inviteCode).not.toBe(code);
      expect(after.inviteCode).toMatch(/^[A-HJKMNP-Z2-9]{6}$/);
      expect(after).toMatchObject({ serverVersion: after.syncVersion, updatedBy: owner.id });
      const rejoin = await failure(() => kit.auth.joinFamily(member.id, code));
      expect([rejoin.code, rejoin.status]).toEqual([ErrorCode.INVITE_CODE_INVALID, 404]);
      // Removing them again: they are no longer a member, and nothing is written (no version, same code).
      expect((await kit.as(owner.id, () => failure(() => kit.families.removeMember(member.id)))).code).toBe(ErrorCode.NOT_FOUND);
      expect(await family(owner.familyId)).toEqual(after);
    });

    it("another family's member is NOT_FOUND, like an unknown id, and is not touched", async () => {
      const { owner } = await familyWithMembers(0);
      const other = await familyWithMembers(1);
      const foreign = await kit.as(owner.id, () => failure(() => kit.families.removeMember(other.members[0].id)));
      const unknown = await kit.as(owner.id, () => failure(() => kit.families.removeMember('6f1c2b0e-9a7d-4c1e-8b7a-2d3e4f5a6b7c')));
      expect([foreign.code, foreign.status, foreign.message]).toEqual([unknown.code, 404, unknown.message]);
      expect(await user(other.members[0].id)).toMatchObject({ familyId: other.owner.familyId, role: 'member' });
      expect((await family(other.owner.familyId)).inviteCode).toBe(other.code);
    });
  });

  describe('self-removal rule', () => {
    it('the owner cannot remove themselves: VALIDATION_FAILED (422) naming userId in details.fields', async () => {
      const { owner } = await familyWithMembers(1);
      const error = await kit.as(owner.id, () => failure(() => kit.families.removeMember(owner.id)));
      expect([error.code, error.status]).toEqual([ErrorCode.VALIDATION_FAILED, 422]);
      expect(error.details).toEqual({ fields: [{ field: 'userId', errors: [error.message] }] });
      expect(await user(owner.id)).toMatchObject({ familyId: owner.familyId, role: 'owner' });
    });
  });

  describe('createForMember (POST /families)', () => {
    /** The caller as JwtAuthGuard reads them. */
    const caller = async (id: string) => {
      const { familyId, role, familyJoinedVersion } = await user(id);
      return { userId: id, familyId, role, joinedVersion: familyJoinedVersion };
    };
    const founded = async (id: string) => kit.dataSource.getRepository(FamilyEntity).find({ where: { createdBy: id } });

    it('a removed user founds a family as its owner, its first version above the one they were removed at, whatever the clocks did', async () => {
      const { owner, members } = await familyWithMembers(1);
      const ahead = Date.now() + 3_600_000;
      await kit.dataSource.query('UPDATE families SET sync_version = $2 WHERE id = $1', [owner.familyId, ahead]);
      await kit.as(owner.id, () => kit.families.removeMember(members[0].id));
      const response = await kit.memberships.createForMember(await caller(members[0].id), { patient_name: 'P', patient_weight_kg: 20 });
      const created = await family(response.id);
      expect(created).toMatchObject({ patientName: 'P', patientWeightKg: 20, patientDiagnosis: null, createdBy: members[0].id, updatedBy: members[0].id });
      expect(created.syncVersion).toBeGreaterThan(ahead);
      expect([created.serverVersion, created.serverCreatedVersion]).toEqual([created.syncVersion, created.syncVersion]);
      // Client-facing times are the clock's, not raised with the version.
      expect(created.createdAt).toBeLessThan(ahead);
      expect(await user(members[0].id)).toMatchObject({ familyId: created.id, role: 'owner', familyJoinedVersion: created.syncVersion });
      expect(response.members.map((m) => [m.id, m.role])).toEqual([[members[0].id, 'owner']]);
      expect(response.invite_code).toBe(created.inviteCode);
    });

    it('a caller read in no family who has joined one meanwhile: ALREADY_IN_FAMILY; joined and removed again: MEMBERSHIP_CHANGED; nothing created either way', async () => {
      const { owner, members } = await familyWithMembers(2);
      await kit.as(owner.id, () => kit.families.removeMember(members[0].id));
      await kit.as(owner.id, () => kit.families.removeMember(members[1].id));
      const target = await familyWithMembers(0);
      const stale = await caller(members[0].id);
      await kit.memberships.moveMember(await user(members[0].id), target.code);
      const joined = await failure(() => kit.memberships.createForMember(stale, {}));
      expect([joined.code, joined.status]).toEqual([ErrorCode.ALREADY_IN_FAMILY, 409]);

      const staleToo = await caller(members[1].id);
      await kit.memberships.moveMember(await user(members[1].id), target.code);
      await kit.as(target.owner.id, () => kit.families.removeMember(members[1].id));
      const moved = await failure(() => kit.memberships.createForMember(staleToo, {}));
      expect([moved.code, moved.status]).toEqual([ErrorCode.MEMBERSHIP_CHANGED, 409]);
      for (const m of members) expect(await founded(m.id)).toEqual([]);
      expect((await user(members[1].id)).familyId).toBeNull();
    });
  });

  describe('moveMember (join-family)', () => {
    const row = async (id: string) => {
      const { familyId, role, familyJoinedVersion } = await user(id);
      return { id, familyId, role, familyJoinedVersion };
    };

    it('moves the user as a member, at a version above the family left, and settles the family left', async () => {
      const mover = await familyWithMembers(0);
      const target = await familyWithMembers(1);
      const left = await family(mover.owner.familyId);
      // A fast clock once wrote the family left far ahead: its devices hold cursors up to there.
      const ahead = Date.now() + 3_600_000;
      await kit.dataSource.query('UPDATE families SET sync_version = $2 WHERE id = $1', [left.id, ahead]);
      await kit.memberships.moveMember(await row(mover.owner.id), target.code);
      const moved = await user(mover.owner.id);
      expect(moved).toMatchObject({ familyId: target.owner.familyId, role: 'member' });
      expect(moved.familyJoinedVersion).toBe((await family(target.owner.familyId)).syncVersion);
      expect(moved.familyJoinedVersion).toBeGreaterThan(ahead);
      expect((await family(left.id)).inviteCode).toBeNull(); // nobody left in it
    });

    it('a user in no family (removed) joins at a version above the one they were removed at, whatever the clocks did', async () => {
      const { owner, members } = await familyWithMembers(1);
      // A fast clock once wrote the family far ahead: the member's devices hold cursors up to there.
      const ahead = Date.now() + 3_600_000;
      await kit.dataSource.query('UPDATE families SET sync_version = $2 WHERE id = $1', [owner.familyId, ahead]);
      await kit.as(owner.id, () => kit.families.removeMember(members[0].id));
      const target = await familyWithMembers(0);
      await kit.memberships.moveMember(await row(members[0].id), target.code);
      const moved = await user(members[0].id);
      expect(moved).toMatchObject({ familyId: target.owner.familyId, role: 'member' });
      expect(moved.familyJoinedVersion).toBe((await family(target.owner.familyId)).syncVersion);
      expect(moved.familyJoinedVersion).toBeGreaterThan(ahead);
    });

    it('an owner with members is refused before the code is looked at (the answer does not depend on the code)', async () => {
      const { owner } = await familyWithMembers(1);
      const read = await row(owner.id);
      for (const code of ['222222', (await familyWithMembers(0)).code]) {
        const error = await failure(() => kit.memberships.moveMember(read, code));
        expect([error.code, error.status, error.message]).toEqual([ErrorCode.OWNER_HAS_MEMBERS, 409, expect.stringMatching(/owner of a family with other members cannot leave/)]);
      }
      expect(await user(owner.id)).toMatchObject({ familyId: owner.familyId, role: 'owner' });
    });

    describe('settles the family left, in the same transaction', () => {
      it('nobody left: the family keeps its row but has no invite code at all (nothing to guess), at a new version', async () => {
        const { owner, code } = await familyWithMembers(0);
        const before = await family(owner.familyId);
        await kit.memberships.moveMember(await row(owner.id), (await familyWithMembers(0)).code);
        const after = await family(owner.familyId);
        expect(after.inviteCode).toBeNull();
        expect(after.syncVersion).toBeGreaterThan(before.syncVersion);
        expect(after.serverVersion).toBe(after.syncVersion);
        expect((await failure(() => register(code))).code).toBe(ErrorCode.INVITE_CODE_INVALID);
      });

      it('members but no owner (left so by an earlier release): the longest-standing member becomes the owner', async () => {
        const { owner, members } = await familyWithMembers(3);
        await kit.dataSource.query('UPDATE users SET family_id = NULL, role = NULL WHERE id = $1', [owner.id]);
        // members[1] has the newer account but joined first (an account made elsewhere, then invited).
        await kit.dataSource.query('UPDATE users SET family_joined_version = family_joined_version - 1000 WHERE id = $1', [members[1].id]);
        await kit.memberships.moveMember(await row(members[2].id), (await familyWithMembers(0)).code);
        expect((await user(members[1].id)).role).toBe('owner');
        expect((await user(members[0].id)).role).toBe('member');
      });

      it('an owner still there: roles unchanged; a new invite code (the leaver knew the old one) at a new version', async () => {
        const { owner, members, code } = await familyWithMembers(1);
        const before = await family(owner.familyId);
        await kit.memberships.moveMember(await row(members[0].id), (await familyWithMembers(0)).code);
        const after = await family(owner.familyId);
        expect(after.inviteCode).not.toBe(code);
        expect(after.inviteCode).toMatch(/^[A-HJKMNP-Z2-9]{6}$/);
        expect(Number(after.syncVersion)).toBeGreaterThan(Number(before.syncVersion));
        expect((await user(owner.id)).role).toBe('owner');
      });
    });

    it('a settle that fails undoes the join: the user stays in the family left, which keeps its code', async () => {
      const { owner, code } = await familyWithMembers(0);
      const target = await familyWithMembers(0);
      // Settling the family left fails once it has written (a stand-in for a crash or a lost
      // connection), after the join has moved the user. Not a trigger on `families`: DDL on a table
      // every test of the run shares waited for their transactions, and hung one that was holding a
      // pull open (the CI's PostgreSQL 15 run).
      const settling = kit.memberships as unknown as { settleLeft: (manager: EntityManager, familyId: string, version: number) => Promise<void> };
      const settleLeft = settling.settleLeft.bind(kit.memberships);
      const spy = jest.spyOn(settling, 'settleLeft').mockImplementationOnce(async (manager, familyId, version) => {
        await settleLeft(manager, familyId, version);
        throw new Error('settle failed');
      });
      try {
        await expect(kit.memberships.moveMember(await row(owner.id), target.code)).rejects.toThrow('settle failed');
        expect(spy).toHaveBeenCalledTimes(1);
      } finally {
        spy.mockRestore();
      }
      expect(await user(owner.id)).toMatchObject({ familyId: owner.familyId, role: 'owner' });
      expect((await family(owner.familyId)).inviteCode).toBe(code);
    });

    it('a user who moved since the caller read them (another phone joined meanwhile): 409, nothing changes', async () => {
      const mover = await familyWithMembers(1);
      const stale = await row(mover.members[0].id);
      const elsewhere = await familyWithMembers(0);
      await kit.memberships.moveMember(stale, elsewhere.code);
      const target = await familyWithMembers(0);
      const error = await failure(() => kit.memberships.moveMember(stale, target.code));
      expect([error.code, error.status]).toEqual([ErrorCode.MEMBERSHIP_CHANGED, 409]);
      expect((await user(stale.id)).familyId).toBe(elsewhere.owner.familyId);
    });

    it("decides on the user's row as it is under the lock, not as the caller read it", async () => {
      // Read as a member, promoted to owner (with members) before the lock: refused.
      const { owner, members } = await familyWithMembers(2);
      const stale = await row(members[0].id);
      await kit.dataSource.query(`UPDATE users SET role = CASE WHEN id = $1 THEN 'owner' ELSE 'member' END WHERE family_id = $2`, [members[0].id, owner.familyId]);
      const target = await familyWithMembers(0);
      const refused = await failure(() => kit.memberships.moveMember(stale, target.code));
      expect([refused.code, refused.message]).toEqual([ErrorCode.OWNER_HAS_MEMBERS, expect.stringMatching(/owner of a family with other members cannot leave/)]);
      expect(await user(members[0].id)).toMatchObject({ familyId: owner.familyId, role: 'owner' });

      // Read in no family, joined the target meanwhile: already in it.
      const loner = await familyWithMembers(0);
      await kit.dataSource.query(`UPDATE users SET family_id = $2, role = 'member' WHERE id = $1`, [loner.owner.id, target.owner.familyId]);
      const read = { ...(await row(loner.owner.id)), familyId: null, role: null };
      const already = await failure(() => kit.memberships.moveMember(read, target.code));
      expect([already.code, already.message]).toEqual([ErrorCode.ALREADY_IN_FAMILY, 'You are already a member of this family']);
    });
  });

  describe('transferOwnership (POST /families/me/owner)', () => {
    it('demotes the owner only while the password hash the confirmation verified is still theirs: a change committed meanwhile answers 401, nothing changes', async () => {
      const { owner, members } = await familyWithMembers(1);
      const [heir] = members;
      const users = kit.dataSource.getRepository(UserEntity);
      // A request without a sign-in id (the guard's scope here has none): the hash is the only check left.
      const stale = await kit.as(owner.id, () =>
        failure(() =>
          kit.families.transferOwnership(heir.id, async () => {
            const verified = (await user(owner.id)).passwordHash;
            await users.update({ id: owner.id }, { passwordHash: `${verified}-changed` }); // a reset or change commits meanwhile
            return verified;
          }),
        ),
      );
      expect([stale.code, stale.status]).toEqual([ErrorCode.INVALID_CREDENTIALS, 401]);
      expect(await user(owner.id)).toMatchObject({ role: 'owner' });
      expect(await user(heir.id)).toMatchObject({ role: 'member' });
      // The hash still theirs: handed on.
      const current = (await user(owner.id)).passwordHash;
      await kit.as(owner.id, () => kit.families.transferOwnership(heir.id, async () => current));
      expect(await user(owner.id)).toMatchObject({ role: 'member' });
      expect(await user(heir.id)).toMatchObject({ role: 'owner' });
    });
  });

  describe('update', () => {
    it('any member writes patient fields; version and audit columns follow', async () => {
      const { owner, members } = await familyWithMembers(1);
      const before = await family(owner.familyId);
      const res = await kit.as(members[0].id, () => kit.families.update({ patient_name: 'Amira', patient_weight_kg: 24.5 }));
      expect(res).toMatchObject({ patient_name: 'Amira', patient_weight_kg: 24.5 });
      const after = await family(owner.familyId);
      expect(after.syncVersion).toBeGreaterThan(before.syncVersion);
      expect(after).toMatchObject({ serverVersion: after.syncVersion, updatedBy: members[0].id });
    });

    it("a change moves the family row's updated_at (WatermelonDB's column, pulled with the row) to the write's time", async () => {
      const { owner } = await familyWithMembers(0);
      await kit.dataSource.query('UPDATE families SET updated_at = 1 WHERE id = $1', [owner.familyId]);
      const res = await kit.as(owner.id, () => kit.families.update({ patient_name: 'Amira' }));
      const after = await family(owner.familyId);
      expect(after.updatedAt).toBeGreaterThan(1);
      expect(res.updated_at).toBe(after.updatedAt);
    });

    it('a PATCH that changes nothing writes nothing: no version, no updated_at, no updated_by', async () => {
      const { owner, members } = await familyWithMembers(1);
      await kit.as(owner.id, () => kit.families.update({ patient_name: 'Amira', patient_weight_kg: 24.5, notes: null }));
      const before = await family(owner.familyId);
      for (const dto of [{}, { patient_name: 'Amira' }, { patient_weight_kg: 24.5, notes: null }]) {
        const res = await kit.as(members[0].id, () => kit.families.update(dto));
        expect(res).toMatchObject({ patient_name: 'Amira', patient_weight_kg: 24.5, notes: null });
        expect(await family(owner.familyId)).toEqual(before);
      }
      // One real change among unchanged ones is written, and only then.
      await kit.as(members[0].id, () => kit.families.update({ patient_name: 'Amira', notes: 'new' }));
      const after = await family(owner.familyId);
      expect(after.syncVersion).toBeGreaterThan(before.syncVersion);
      expect(after).toMatchObject({ notes: 'new', patientName: 'Amira', updatedBy: members[0].id });
    });
  });

  describe('withUniqueInviteCode (a drawn code that is already taken)', () => {
    /** Runs withUniqueInviteCode on `familyId`'s row; `collisions` first draws are replaced by `taken`, as a random draw rarely is. */
    const setCode = (familyId: string, taken: string, collisions: number, tried: string[]) =>
      kit.dataSource.transaction(async (manager) => {
        const code = await withUniqueInviteCode(manager, async (candidate) => {
          tried.push(candidate);
          const value = tried.length <= collisions ? taken : candidate;
          await manager.query('UPDATE families SET invite_code = $1 WHERE id = $2', [value, familyId]);
          return value;
        });
        // The savepoint left the transaction usable after the unique violation.
        await manager.query('SELECT 1');
        return code;
      });

    it('draws again after a unique violation: the family gets the next code, in the same transaction', async () => {
      const taken = (await family((await register()).familyId)).inviteCode!;
      const mine = await register();
      const tried: string[] = [];
      const code = await setCode(mine.familyId, taken, 1, tried);
      expect(tried).toHaveLength(2);
      expect(code).toBe(tried[1]);
      expect((await family(mine.familyId)).inviteCode).toBe(tried[1]);
    });

    it('gives up after 8 collisions with the unique violation, the family unchanged', async () => {
      const taken = (await family((await register()).familyId)).inviteCode!;
      const mine = await register();
      const before = (await family(mine.familyId)).inviteCode;
      const tried: string[] = [];
      const error = await setCode(mine.familyId, taken, 8, tried).catch((e: unknown) => e);
      expect((error as { driverError?: { code?: string } }).driverError?.code).toBe('23505');
      expect(tried).toHaveLength(8);
      expect((await family(mine.familyId)).inviteCode).toBe(before);
    });
  });
});
