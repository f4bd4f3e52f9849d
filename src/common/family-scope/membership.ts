import type { EntityManager } from 'typeorm';
import { prepared, type BatchStatement } from '../../database/statement-batch.js';
import { DomainError, ErrorCode } from '../errors/domain-error.js';
import type { FamilyScope } from './family-context.js';

/** The caller's family membership changed after the guard read it (removed, or joined another family). */
export const membershipChanged = (): DomainError =>
  new DomainError(ErrorCode.MEMBERSHIP_CHANGED, 'Your family membership changed during this request; reload and try again', { membership_changed: true });

/**
 * Inside a write's transaction, before it writes: the caller's membership as it is now, locked FOR
 * SHARE, so a removal or a join (both update this row) waits until the write has committed, and a
 * write that waited for them sees their result. The guard read the membership when the request
 * began; a request that outlived it (a slow upload, a push queued behind the family lock) must not
 * write into a family its caller has left. `owner`: the caller must also still be its owner (an
 * owner-only write; the ownership may have been handed on meanwhile).
 */
export function assertStillMember(
  manager: EntityManager,
  scope: Pick<FamilyScope, 'userId' | 'familyId' | 'joinedVersion'>,
  error: () => DomainError = membershipChanged,
  options: { owner?: boolean } = {},
): Promise<void> {
  return checkMembership(manager, scope, error, ' FOR SHARE', options.owner ?? false);
}

/**
 * For a read, after it has read what it returns: the caller's membership as it is now, without a
 * lock (a lock would write to the user's row on every GET). A removal or join that committed before
 * those reads is seen here, so a removed member's request in flight cannot return what the removal
 * changed (the invite code it replaced).
 */
export function assertStillMemberAfterRead(manager: EntityManager, scope: Pick<FamilyScope, 'userId' | 'familyId' | 'joinedVersion'>): Promise<void> {
  return checkMembership(manager, scope, membershipChanged, '', false);
}

async function checkMembership(
  manager: EntityManager,
  scope: Pick<FamilyScope, 'userId' | 'familyId' | 'joinedVersion'>,
  error: () => DomainError,
  lock: '' | ' FOR SHARE',
  owner: boolean,
): Promise<void> {
  const { text, values } = membershipStatement(scope.userId, lock);
  verifyMembership(await manager.query(text, values as unknown[]), scope, error, { owner });
}

/** assertStillMember's statement, to send with others (FamilyVersionService sends it with its version bump). */
export function stillMemberStatement(userId: string): BatchStatement {
  return membershipStatement(userId, ' FOR SHARE');
}

function membershipStatement(userId: string, lock: '' | ' FOR SHARE'): BatchStatement {
  return prepared(`SELECT family_id::text AS family_id, family_joined_version::text AS joined_version, role FROM users WHERE id = $1${lock}`, [userId]);
}

/** Throws `error()` unless the rows of a membership statement show `scope`'s membership (and, with `owner`, its ownership). */
export function verifyMembership(
  rows: unknown[],
  scope: Pick<FamilyScope, 'familyId' | 'joinedVersion'>,
  error: () => DomainError = membershipChanged,
  options: { owner?: boolean } = {},
): void {
  const member = rows[0] as { family_id: string | null; joined_version: string; role: string | null } | undefined;
  if (!member || member.family_id !== scope.familyId || Number(member.joined_version) !== scope.joinedVersion) throw error();
  if (options.owner && member.role !== 'owner') throw error();
}

/**
 * assertStillMember for a write outside FamilyVersionService (a bare uploaded file: not synced, no
 * version). It first takes the family row FOR KEY SHARE, which its insert's foreign key would take
 * anyway, but later: families before users is the order every write locks in (a join: both
 * families, then the user; a removal: the family, then the member), and the other order deadlocked
 * with them (found by review). KEY SHARE does not make such writes wait for each other.
 */
export async function assertStillMemberOutsideVersionedWrite(manager: EntityManager, scope: Pick<FamilyScope, 'userId' | 'familyId' | 'joinedVersion'>): Promise<void> {
  await manager.query('SELECT 1 FROM families WHERE id = $1 FOR KEY SHARE', [scope.familyId]);
  await assertStillMember(manager, scope);
}
