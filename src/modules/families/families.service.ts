import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { FamilyContext, type FamilyScope } from '../../common/family-scope/family-context.js';
import { assertStillMemberAfterRead } from '../../common/family-scope/membership.js';
import { FamilyVersionService, NOTHING_TO_WRITE } from '../../common/versioning/family-version.service.js';
import { AuthErrors } from '../auth/auth.errors.js';
import { UserEntity } from '../auth/entities/user.entity.js';
import { revokeRefreshTokens } from '../auth/refresh-token-revocation.js';
import { FamilyEntity } from './entities/family.entity.js';
import { FamilyResponse, FamilySummaryResponse, InviteCodeResponse } from './dto/family.response.js';
import { patientFields, type PatientProperty, UpdateFamilyDto } from './dto/update-family.dto.js';
import { FamiliesRepository, FamilyMembersRepository } from './families.repository.js';
import { FamiliesErrors } from './families.errors.js';
import { withUniqueInviteCode } from './invite-code.js';

/**
 * The caller's current family: what its members read and change (patient fields), and what its
 * owner does (a new invite code, removing a member, handing the ownership on). Moving between
 * families (founding, joining, leaving) is FamilyMembershipService.
 */
@Injectable()
export class FamiliesService {
  constructor(
    private readonly families: FamiliesRepository,
    private readonly members: FamilyMembersRepository,
    private readonly versions: FamilyVersionService,
    private readonly familyContext: FamilyContext,
    @InjectRepository(FamilyEntity) private readonly allFamilies: Repository<FamilyEntity>,
  ) {}

  async getCurrent(): Promise<FamilyResponse> {
    const [family, members] = await Promise.all([this.requireCurrent(), this.members.list()]);
    // A removal replaces the invite code to keep the removed member out: a request of theirs still
    // in flight must not hand them the new one (found by review).
    await assertStillMemberAfterRead(this.allFamilies.manager, this.familyContext.require());
    return FamilyResponse.withMembers(family, members);
  }

  /**
   * Writes the fields that change. A PATCH that changes nothing (`{}`, or the values already
   * stored) writes nothing: no new version, no `updated_at`, no "sync now" to every device. The
   * comparison runs under the family's lock, against the row as it is then.
   * `onlyIf` (admin CLI `seed`: only a family without a patient yet): a condition the caller decided
   * on before, checked again under the lock against the row as it is then; false writes nothing.
   */
  async update(dto: UpdateFamilyDto, options: { onlyIf?: (current: FamilyEntity) => boolean } = {}): Promise<FamilyResponse> {
    const { userId } = this.familyContext.require();
    const requested = patientFields(dto);
    if (Object.values(requested).every((value) => value === undefined)) return this.getCurrent();
    const { result } = await this.versions.write(async ({ manager, version }) => {
      const families = this.families.withManager(manager);
      const current = await families.current();
      if (!current) throw FamiliesErrors.familyNotFound();
      if (options.onlyIf && !options.onlyIf(current)) return NOTHING_TO_WRITE;
      const patch = Object.fromEntries(
        Object.entries(requested).filter(([property, value]) => value !== undefined && value !== current[property as PatientProperty]),
      ) as Partial<Pick<FamilyEntity, PatientProperty>>;
      if (!Object.keys(patch).length) return NOTHING_TO_WRITE;
      await families.update({}, { ...patch, serverVersion: version, updatedAt: Date.now(), updatedBy: userId });
      return this.currentIn(manager);
    });
    return result === NOTHING_TO_WRITE ? this.getCurrent() : result;
  }

  async regenerateInviteCode(): Promise<InviteCodeResponse> {
    const { userId } = this.requireOwner();
    const { result } = await this.versions.write(({ manager, version }) => this.replaceInviteCode(manager, version, userId), { asOwner: true });
    return { invite_code: result };
  }

  /**
   * Detaches the member, revokes their refresh tokens, ends their open event streams and replaces
   * the invite code, in one versioned write: every member sees the code in GET /families/me, so
   * with the old code still valid a removed member could simply join again. Devices of the remaining
   * members pull the new code (the family row gets the write's version).
   */
  async removeMember(memberId: string): Promise<void> {
    const { userId } = this.requireOwner();
    if (memberId === userId) {
      throw FamiliesErrors.ownerCannotRemoveSelf();
    }
    await this.versions.write(async ({ manager, version }) => {
      // Not a member of this family (or of any): the same 404 as for another family's member, and
      // the transaction (version bump included) rolls back.
      if (!(await this.members.detach(memberId, manager, version))) throw FamiliesErrors.memberNotFound();
      await revokeRefreshTokens(manager, { userId: memberId });
      await this.versions.notifyMembershipChange(manager, memberId);
      await this.replaceInviteCode(manager, version, userId);
    }, { asOwner: true });
  }

  /**
   * Owner only: `newOwnerId`, a member of the family, becomes its owner and the caller a member, in
   * one write under the family lock (the lock every membership change takes, so the member cannot
   * be leaving or removed meanwhile, and an owner-only request of the caller's still in flight sees
   * the change: `asOwner`). Nothing synced changes, but the family's version moves with the write,
   * so the members' devices are told to sync, and refresh what they show of the family.
   *
   * `confirmPassword` (POST /families/me/owner: AuthService checks the caller's password, 401 when
   * wrong) runs after the checks that need no password (the owner, not themselves) and before the
   * write, and answers the password hash it verified: the caller is demoted only while that hash is
   * still theirs (a reset or change that committed meanwhile made the password stale: 401, nothing
   * written, as for an account deletion). The admin CLI confirms nothing.
   */
  async transferOwnership(newOwnerId: string, confirmPassword?: (callerId: string) => Promise<string>): Promise<FamilyResponse> {
    const { userId } = this.requireOwner();
    if (newOwnerId === userId) throw FamiliesErrors.ownerAlready();
    const passwordHash = confirmPassword ? await confirmPassword(userId) : undefined;
    const { result } = await this.versions.write(async ({ manager, familyId }) => {
      const users = manager.getRepository(UserEntity);
      const demoted = await users.update({ id: userId, familyId, ...(passwordHash === undefined ? {} : { passwordHash }) }, { role: 'member' });
      // asOwner checked the role under the lock: only the password can have changed.
      if (!demoted.affected) throw AuthErrors.wrongCurrentPassword();
      const promoted = await users.update({ id: newOwnerId, familyId }, { role: 'owner' });
      // Not a member of this family (or of any): the same 404 as for removing one.
      if (!promoted.affected) throw FamiliesErrors.memberNotFound();
      return this.currentIn(manager);
    }, { asOwner: true });
    return result;
  }

  /** Admin CLI: the family's owner as the family guard would scope them (to act in their name); null for none. */
  async ownerScope(familyId: string): Promise<FamilyScope | null> {
    const owner = await this.allFamilies.manager.getRepository(UserEntity).findOne({ where: { familyId, role: 'owner' } });
    return owner ? { userId: owner.id, familyId, role: 'owner', joinedVersion: owner.familyJoinedVersion } : null;
  }

  /** The family as GET /auth/me shows it; null for none (or one that does not exist). */
  async summaryOf(familyId: string | null): Promise<FamilySummaryResponse | null> {
    const family = familyId ? await this.allFamilies.findOne({ where: { id: familyId } }) : null;
    return family ? FamilySummaryResponse.from(family) : null;
  }

  /**
   * The family as a write leaves it, read in that write's transaction (under the family lock, with
   * the caller's membership just checked; or the founding of a family, FamilyMembershipService).
   * Read after the commit instead, a removal of the caller committing in between made a write that
   * had committed answer 409 MEMBERSHIP_CHANGED (found by review).
   */
  async currentIn(manager: EntityManager): Promise<FamilyResponse> {
    const family = await this.families.withManager(manager).current();
    if (!family) throw FamiliesErrors.familyNotFound();
    return FamilyResponse.withMembers(family, await this.members.withManager(manager).list());
  }

  private async requireCurrent(): Promise<FamilyEntity> {
    const family = await this.families.current();
    if (!family) throw FamiliesErrors.familyNotFound();
    return family;
  }

  private requireOwner() {
    const scope = this.familyContext.require();
    if (scope.role !== 'owner') throw FamiliesErrors.ownerOnly();
    return scope;
  }

  /** Inside a versioned write of the current family: a new invite code; the old one stops working with the commit. */
  private replaceInviteCode(manager: EntityManager, version: number, userId: string): Promise<string> {
    return withUniqueInviteCode(manager, async (inviteCode) => {
      await this.families.withManager(manager).update({}, { inviteCode, serverVersion: version, updatedAt: Date.now(), updatedBy: userId });
      return inviteCode;
    });
  }
}
