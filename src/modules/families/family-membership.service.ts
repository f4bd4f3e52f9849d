import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { FamilyContext } from '../../common/family-scope/family-context.js';
import type { AuthenticatedUser } from '../../common/family-scope/family-scope.request.js';
import { assertStillMember, assertStillSignedIn, membershipChanged } from '../../common/family-scope/membership.js';
import { FamilyVersionService } from '../../common/versioning/family-version.service.js';
import { AuthErrors } from '../auth/auth.errors.js';
import { UserEntity, type FamilyRole } from '../auth/entities/user.entity.js';
import { FamilyEntity } from './entities/family.entity.js';
import { FamilyResponse } from './dto/family.response.js';
import { patientFields, UpdateFamilyDto } from './dto/update-family.dto.js';
import { FamiliesService } from './families.service.js';
import { FamilyMembersRepository } from './families.repository.js';
import { FamiliesErrors } from './families.errors.js';
import { normalizeInviteCode, withUniqueInviteCode } from './invite-code.js';

/**
 * Who is in which family: founding a family with its owner, joining by invite code (from none or
 * from another family), leaving, an account's departure with its deletion, and the family left
 * behind (settled: a new invite code, an owner, or no code when nobody is left). Every change is a
 * versioned write under the family's lock (FamilyVersionService). What a member or the owner does
 * in their current family (patient fields, invite code, removing a member, handing the ownership
 * on) is FamiliesService.
 */
@Injectable()
export class FamilyMembershipService {
  constructor(
    private readonly families: FamiliesService,
    private readonly members: FamilyMembersRepository,
    private readonly versions: FamilyVersionService,
    private readonly familyContext: FamilyContext,
    @InjectRepository(FamilyEntity) private readonly allFamilies: Repository<FamilyEntity>,
  ) {}

  /**
   * The caller leaves their family and is then in no family, signed in still (to join another or
   * found one, POST /families). One versioned write of the family: under its lock the caller's row
   * is read again, an owner with other members is refused (they make a member the owner first:
   * transferOwnership), and the family is settled as after a join elsewhere (settleLeft: a new
   * invite code, which the leaver has seen; none at all when nobody is left). The write's version
   * becomes their `family_joined_version`, the version they left at, as for a removal: a later join
   * or founding is taken above it. Their open event streams end; their phones' next pull answers
   * 403 NO_FAMILY.
   */
  async leave(): Promise<void> {
    const { userId } = this.familyContext.require();
    // assertStillMember (in write) checks the membership under the lock.
    await this.versions.write(({ manager, version, familyId }) =>
      this.depart(manager, userId, familyId, version, () => this.members.detach(userId, manager, version)),
    );
  }

  /**
   * For the deletion of an account (AuthService.deleteAccount): `remove` deletes the user's row, in a
   * transaction that first takes them out of their family as leave() does (one versioned write of it:
   * an owner with other members refused, the family settled). `user` is their row as read before;
   * if their membership changed since (a removal, a join), 409 MEMBERSHIP_CHANGED and nothing is
   * deleted. A user in no family is deleted under a lock of their row, with the same check.
   */
  async deleteMember(user: Pick<UserEntity, 'id' | 'familyId' | 'familyJoinedVersion'>, remove: (manager: EntityManager) => Promise<void>): Promise<void> {
    const scope = { userId: user.id, familyId: user.familyId, joinedVersion: user.familyJoinedVersion };
    if (!scope.familyId) {
      await this.allFamilies.manager.transaction(async (manager) => {
        const now = await manager.getRepository(UserEntity).findOne({ where: { id: user.id }, lock: { mode: 'for_no_key_update' } });
        if (!now) throw AuthErrors.unauthenticated();
        if (now.familyId || now.familyJoinedVersion !== user.familyJoinedVersion) throw membershipChanged();
        await remove(manager);
        await this.versions.notifyMembershipChange(manager, user.id);
      });
      return;
    }
    await this.versions.writeForFamily(scope.familyId, async ({ manager, version, familyId }) => {
      await assertStillMember(manager, { ...scope, familyId });
      await this.depart(manager, user.id, familyId, version, () => remove(manager));
    });
  }


  /**
   * Inside a versioned write of `familyId` (taking `version`), after the leaver's membership was
   * checked under its lock: `leaverId` leaves it by `remove` (detached, or deleted with their account).
   * Their role is read here, under the lock (a hand-over may have made them the owner since the
   * guard ran): an owner with other members is refused. Their event streams end on commit.
   */
  private async depart(manager: EntityManager, leaverId: string, familyId: string, version: number, remove: () => Promise<unknown>): Promise<void> {
    const leaver = await manager.getRepository(UserEntity).findOneOrFail({ where: { id: leaverId } });
    await this.refuseOwnerWithMembers(manager, leaver);
    await remove();
    await this.versions.notifyMembershipChange(manager, leaverId);
    await this.settleLeft(manager, familyId, version);
  }

  /**
   * Inside the transaction of a join elsewhere or of a leave, with `familyId` (the family just left)
   * locked by it and `version` a version of that family taken by it:
   * - no members left: its records stay (nobody deletes medical data by leaving), but its invite
   *   code is removed (NULL): nothing opens a family nobody is in, neither the code in old messages
   *   nor a lucky guess (a new random code would still be one more target for guessing);
   * - members left: its invite code is replaced, as on a removal. The leaver knows it (every member
   *   sees it), and with it could come back uninvited at any time (found by review); the members
   *   see the new one in GET /families/me, and their devices pull it;
   * - members but no owner: the longest-standing member (the earliest `family_joined_version`, not
   *   the oldest account) becomes the owner. A join cannot leave this behind any more (an owner
   *   with members cannot leave, counted under this family's lock); it repairs families that an
   *   earlier release, which settled after the join's commit, did.
   * Part of the leaving transaction, so a join or a leave either commits settled or not at all.
   */
  private async settleLeft(manager: EntityManager, familyId: string, version: number): Promise<void> {
    const members = await manager.getRepository(UserEntity).find({ where: { familyId }, order: { familyJoinedVersion: 'ASC', createdAt: 'ASC' } });
    const families = manager.getRepository(FamilyEntity);
    if (!members.length) {
      await families.update({ id: familyId }, { inviteCode: null, serverVersion: version, updatedAt: Date.now() });
      return;
    }
    if (!members.some((m) => m.role === 'owner')) {
      await manager.getRepository(UserEntity).update({ id: members[0].id }, { role: 'owner' });
    }
    await this.setNewInviteCode(manager, familyId, version);
  }

  /**
   * Admin CLI (`family:invite-code`): a new invite code for any family, in a versioned write of it;
   * the old code, if any, stops working. For support: a family nobody is in any more (its last
   * member left, or deleted their account) has none, and its records are reachable again once
   * someone joins with the new code — as its owner, being its first member (joinByInviteCode).
   * `replaced`: the code it replaced, read under the lock (null: nobody was in the family, so whoever
   * joins first becomes its owner). Read before the lock, a last member leaving meanwhile made the
   * CLI tell the operator the family had members when the code it printed made its holder the owner.
   */
  async issueInviteCode(familyId: string): Promise<{ inviteCode: string; replaced: string | null }> {
    const { result } = await this.versions.writeForFamily(familyId, async ({ manager, version }) => {
      const before = await manager.getRepository(FamilyEntity).findOneOrFail({ where: { id: familyId }, select: { id: true, inviteCode: true } });
      return { inviteCode: await this.setNewInviteCode(manager, familyId, version), replaced: before.inviteCode };
    });
    return result;
  }

  /**
   * A new family with its first member as owner, in one transaction: the one way a family is made
   * (a registration without an invite code, POST /families). `insertOwner` writes the owner's row
   * (in `manager`, with the family's id and its first version as their joined version), and the
   * family records them as its creator. `above`: the first version is taken above it (a founder
   * in no family: the version they left their last family at). `patient`: the family's patient
   * fields, validated by the caller's DTO (UpdateFamilyDto).
   */
  createWithOwner<T extends { id: string }>(
    insertOwner: (manager: EntityManager, familyId: string, version: number) => Promise<T>,
    options: { above?: number; patient?: UpdateFamilyDto } = {},
  ): Promise<T> {
    return this.allFamilies.manager.transaction(async (manager) => {
      const family = await this.createFamily(manager, options.above ?? 0, options.patient ?? {});
      const owner = await insertOwner(manager, family.id, family.syncVersion);
      await manager.getRepository(FamilyEntity).update({ id: family.id }, { createdBy: owner.id, updatedBy: owner.id });
      return owner;
    });
  }

  /**
   * POST /families: a user in no family (removed by an owner) founds a family of their own, as its
   * owner, with the patient fields of `patient`. The rules of a join from no family apply (see
   * moveMember): the family's first version, which becomes their `family_joined_version`, is taken
   * above the version they were removed at, so their phones' cursors of the old family (possibly
   * ahead of the clock) predate the membership and the next pull is a replacement snapshot; their
   * row is locked and read again inside the transaction, so of two POSTs (or a POST and a join)
   * one wins and the other gets 409 (ALREADY_IN_FAMILY, or MEMBERSHIP_CHANGED) with nothing made;
   * a request whose sign-in ended meanwhile (`signInId`: a password changed on another phone) gets 401.
   * Answers the family as GET /families/me shows it, read in the founding's transaction (as the founding left it).
   */
  async createForMember(caller: Pick<AuthenticatedUser, 'userId' | 'familyId' | 'joinedVersion'> & Partial<Pick<AuthenticatedUser, 'signInId'>>, patient: UpdateFamilyDto): Promise<FamilyResponse> {
    if (caller.familyId) throw FamiliesErrors.alreadyInAFamily();
    const founded = await this.createWithOwner(
      async (manager, familyId, version) => {
        // The family row is new (nobody else can lock it): locking the user after it keeps the
        // order of every other write (families, then users). FOR NO KEY UPDATE, as in moveMember.
        const founder = await manager.getRepository(UserEntity).findOne({ where: { id: caller.userId }, lock: { mode: 'for_no_key_update' } });
        if (!founder) throw AuthErrors.unauthenticated();
        if (founder.familyId) throw FamiliesErrors.alreadyInAFamily();
        // Joined and was removed again since the guard read them: `above` is not their version.
        if (founder.familyJoinedVersion !== caller.joinedVersion) throw membershipChanged();
        // Signed out meanwhile (a password changed on another phone: "every other sign-in ends at once"): 401, nothing made.
        await assertStillSignedIn(manager, founder.id, caller.signInId);
        await manager.getRepository(UserEntity).update({ id: founder.id }, { familyId, role: 'owner', familyJoinedVersion: version });
        await this.versions.notifyMembershipChange(manager, founder.id);
        // The answer is read in the founding's transaction: read after its commit, a join from the
        // founder's other phone committing in between made a family that was made answer 409
        // MEMBERSHIP_CHANGED, "nothing was created" (found by review; as for a hand-over, currentIn).
        const scope = { userId: founder.id, familyId, role: 'owner' as const, joinedVersion: version };
        return { id: founder.id, family: await this.familyContext.run(scope, () => this.families.currentIn(manager)) };
      },
      { above: caller.joinedVersion, patient },
    );
    return founded.family;
  }

  /**
   * Moves a user into the family of `code`, from none or from another family: the membership rules
   * of a join in one place, in one transaction that locks both families (the one joined and the
   * one left) and then the user's row:
   * - an owner with other members cannot leave (they hand the ownership on first: transferOwnership);
   * - nobody joins the family they are in;
   * - the user becomes a member at a version above every cursor of the family left, and their open
   *   event streams end on commit; a user in no family (removed) left theirs at their
   *   `family_joined_version` (the removal's version, FamilyMembersRepository.detach), so their join is
   *   taken above it, as a fast clock there may have put their phones' cursors ahead of the family
   *   joined (found by review: without X-Device-Id, such a phone then pulled the new family
   *   incrementally once its version passed the cursor, keeping the old family's records and missing
   *   the new one's history);
   * - the family left is settled (settleLeft) in the same transaction.
   * `user` is the caller's row as read before: an owner with members is refused before the code is
   * even looked up (so the answer does not depend on the code), and its family is the one locked
   * as left; if the user has moved since (another phone joined meanwhile), 409 and nothing changes;
   * if the request's sign-in `signInId` has ended since (a password change on another phone), 401.
   * Answers the user and the family joined as the join left them, read in its transaction: read
   * after the commit, a removal or a join from the user's other phone committing in between made a
   * join that had committed answer 409 MEMBERSHIP_CHANGED ("nothing changed"), or 200 naming
   * another family than the one joined (found by review; as for a founding, createForMember).
   */
  async moveMember(
    user: Pick<UserEntity, 'id' | 'familyId' | 'role' | 'familyJoinedVersion'>,
    code: string,
    signInId: string | null = null,
  ): Promise<{ user: UserEntity; family: FamilyEntity }> {
    await this.refuseOwnerWithMembers(this.allFamilies.manager, user);
    return this.joinByInviteCode(
      code,
      async (manager, familyId, version, role) => {
        // FOR NO KEY UPDATE: waits for a push holding the row FOR SHARE, but not for the foreign-key
        // KEY SHARE of an insert that names the user (a device's first pull recording itself, a
        // refresh token), which FOR UPDATE would deadlock with (found by review).
        const mover = await manager.getRepository(UserEntity).findOne({ where: { id: user.id }, lock: { mode: 'for_no_key_update' } });
        if (!mover) throw AuthErrors.unauthenticated();
        if (mover.familyId === familyId) throw AuthErrors.alreadyInFamily();
        // Moved since it was read: the family locked as the one left (or the version the join is
        // taken above) is not theirs.
        if (mover.familyId !== user.familyId || mover.familyJoinedVersion !== user.familyJoinedVersion) throw membershipChanged();
        // The request's sign-in ended meanwhile (a password changed on another phone because this one
        // was lost, a logout): 401 and nothing moves, as for every other write (assertStillMember).
        await assertStillSignedIn(manager, mover.id, signInId);
        await this.refuseOwnerWithMembers(manager, mover);
        await manager.getRepository(UserEntity).update({ id: mover.id }, { familyId, role, familyJoinedVersion: version });
        await this.versions.notifyMembershipChange(manager, mover.id);
        // The family left behind may now be empty (retire its code) or ownerless (promote a member).
        if (mover.familyId) await this.settleLeft(manager, mover.familyId, await this.versions.bumpLeft(manager, mover.familyId));
        return {
          user: await manager.getRepository(UserEntity).findOneByOrFail({ id: mover.id }),
          family: await manager.getRepository(FamilyEntity).findOneByOrFail({ id: familyId }),
        };
      },
      user.familyId ? { leavingFamilyId: user.familyId } : { above: user.familyJoinedVersion },
    );
  }


  /**
   * Joins the family of `code` under that family's version lock, so the
   * joiner's `family_joined_version` is a version no earlier cursor can reach. `attach` gets the
   * role the joiner takes: member, or owner of a family nobody is in (given a code again by an
   * operator: `issueInviteCode`), counted under the lock.
   * `leavingFamilyId`: the family the joiner leaves (locked too, the join is taken above its version);
   * `above`: for a joiner in no family, the version they left their last family at.
   */
  async joinByInviteCode<T>(
    code: string,
    attach: (manager: EntityManager, familyId: string, version: number, role: FamilyRole) => Promise<T>,
    options: { leavingFamilyId?: string | null; above?: number } = {},
  ): Promise<T> {
    const inviteCode = normalizeInviteCode(code);
    const family = await this.allFamilies.findOne({ where: { inviteCode }, select: { id: true } });
    if (!family) throw FamiliesErrors.inviteCodeNotFound();
    // The joiner's devices hold cursors of the family they leave: locked with the family joined, it
    // makes the join version exceed them all (whatever the clocks did), so their next pull is
    // recognised as predating the membership.
    const { result } = await this.versions.writeForFamily(
      family.id,
      async ({ manager, version }) => {
        // The owner may have regenerated the code between our look-up and the lock.
        const still = await manager.getRepository(FamilyEntity).count({ where: { id: family.id, inviteCode } });
        if (!still) throw FamiliesErrors.inviteCodeNotFound();
        const members = await manager.getRepository(UserEntity).count({ where: { familyId: family.id } });
        return attach(manager, family.id, version, members ? 'member' : 'owner');
      },
      { leaving: options.leavingFamilyId, above: options.above },
    );
    return result;
  }

  /** The owner of a family with other members cannot leave it: it would be left without an owner. */
  private async refuseOwnerWithMembers(manager: EntityManager, user: Pick<UserEntity, 'familyId' | 'role'>): Promise<void> {
    if (user.role !== 'owner' || !user.familyId) return;
    const members = await manager.getRepository(UserEntity).count({ where: { familyId: user.familyId } });
    if (members > 1) throw FamiliesErrors.ownerHasMembers();
  }

  /** Creates the family row of a new owner, inside their transaction, at a first version above `above`. */
  private async createFamily(manager: EntityManager, above: number, patient: UpdateFamilyDto): Promise<FamilyEntity> {
    // Versions come from the database clock, like every other version (FamilyVersionService);
    // created_at / updated_at are the clock itself (client-facing times, never raised).
    const [row]: Array<{ now: string; version: string }> = await manager.query(
      `SELECT now, greatest(now, $1::bigint + 1) AS version
         FROM (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now) clock`,
      [above],
    );
    const now = Number(row.now);
    const version = Number(row.version);
    const fields = Object.fromEntries(Object.entries(patientFields(patient)).filter(([, value]) => value !== undefined));
    return withUniqueInviteCode(manager, (inviteCode) =>
        manager.getRepository(FamilyEntity).save(
          manager.getRepository(FamilyEntity).create({
            ...fields,
            inviteCode,
            syncVersion: version,
            serverVersion: version,
            serverCreatedVersion: version,
            createdAt: now,
            updatedAt: now,
          }),
        ),
    );
  }

  /** Inside a versioned write of `familyId` (not the request's scope: settling a family left, the CLI). */
  private setNewInviteCode(manager: EntityManager, familyId: string, version: number): Promise<string> {
    return withUniqueInviteCode(manager, async (inviteCode) => {
      await manager.getRepository(FamilyEntity).update({ id: familyId }, { inviteCode, serverVersion: version, updatedAt: Date.now() });
      return inviteCode;
    });
  }

}
