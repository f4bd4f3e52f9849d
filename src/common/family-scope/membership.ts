import type { EntityManager } from 'typeorm';
import { prepared, type BatchStatement } from '../../database/statement-batch.js';
import { DomainError, ErrorCode } from '../errors/domain-error.js';
import type { FamilyScope } from './family-context.js';

/** The caller's family membership changed after the guard read it (removed, or joined another family). */
export const membershipChanged = (): DomainError =>
  new DomainError(ErrorCode.MEMBERSHIP_CHANGED, 'Your family membership changed during this request; reload and try again', { membership_changed: true });

/** The request's sign-in ended after the guard read it (logout, password change or reset): as its next request would be answered. */
const signedOut = (): DomainError => new DomainError(ErrorCode.UNAUTHENTICATED, 'Authentication required');

type MemberScope = Pick<FamilyScope, 'userId' | 'familyId' | 'joinedVersion' | 'signInId'>;

/**
 * Inside a write's transaction, before it writes: the caller's membership as it is now, locked FOR
 * SHARE, so a removal or a join (both update this row) waits until the write has committed, and a
 * write that waited for them sees their result. The guard read the membership when the request
 * began; a request that outlived it (a slow upload, a push queued behind the family lock) must not
 * write into a family its caller has left. `owner`: the caller must also still be its owner (an
 * owner-only write; the ownership may have been handed on meanwhile). With the scope's `signInId`,
 * that sign-in must still be live too: a request of a phone signed out meanwhile (logout, or a
 * password changed on another phone: "every other sign-in ends at once") must not write either;
 * 401, as its next request gets.
 */
export function assertStillMember(
  manager: EntityManager,
  scope: MemberScope,
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
export function assertStillMemberAfterRead(manager: EntityManager, scope: MemberScope): Promise<void> {
  return checkMembership(manager, scope, membershipChanged, '', false);
}

async function checkMembership(manager: EntityManager, scope: MemberScope, error: () => DomainError, lock: '' | ' FOR SHARE', owner: boolean): Promise<void> {
  const { text, values } = membershipStatement(scope, lock);
  verifyMembership(await manager.query(text, values as unknown[]), scope, error, { owner });
}

/** assertStillMember's statement, to send with others (FamilyVersionService sends it with its version bump). */
export function stillMemberStatement(scope: Pick<FamilyScope, 'userId' | 'signInId'>): BatchStatement {
  return membershipStatement(scope, ' FOR SHARE');
}

/**
 * The user's membership, and whether the sign-in `signInId` (a refresh-token chain, as JwtAuthGuard
 * and the event stream check it) still has a token not revoked; NULL: not asked. A logout or a
 * password change that committed before this statement began is seen. One that commits while it
 * runs (a password change holds the users row this statement locks: the statement waits for it, then
 * reads the tokens as they were when it began) is concurrent with the write, which goes on, as one
 * that passed this check a moment earlier does; a password change waits for that write's commit.
 */
function membershipStatement(scope: Pick<FamilyScope, 'userId' | 'signInId'>, lock: '' | ' FOR SHARE'): BatchStatement {
  return prepared(
    `SELECT u.family_id::text AS family_id, u.family_joined_version::text AS joined_version, u.role,
            $2::uuid IS NULL OR EXISTS (SELECT 1 FROM refresh_tokens rt WHERE rt.chain_id = $2::uuid AND rt.user_id = u.id AND rt.revoked_at IS NULL) AS signed_in
       FROM users u WHERE u.id = $1${lock}`,
    [scope.userId, scope.signInId ?? null],
  );
}

/**
 * Throws unless the rows of a membership statement show `scope`'s membership (and, with `owner`, its
 * ownership): `error()`; or, a member whose sign-in (the one the statement was asked about) ended, 401.
 */
export function verifyMembership(
  rows: unknown[],
  scope: Pick<FamilyScope, 'familyId' | 'joinedVersion'>,
  error: () => DomainError = membershipChanged,
  options: { owner?: boolean } = {},
): void {
  const member = rows[0] as { family_id: string | null; joined_version: string; role: string | null; signed_in: boolean } | undefined;
  if (!member || member.family_id !== scope.familyId || Number(member.joined_version) !== scope.joinedVersion) throw error();
  // After the membership: a removal ends the sign-ins too, and answers as a membership change.
  if (member.signed_in === false) throw signedOut();
  if (options.owner && member.role !== 'owner') throw error();
}

/**
 * assertStillMember for a write outside FamilyVersionService (a bare uploaded file: not synced, no
 * version). It first takes the family row FOR KEY SHARE, which its insert's foreign key would take
 * anyway, but later: families before users is the order every write locks in (a join: both
 * families, then the user; a removal: the family, then the member), and the other order deadlocked
 * with them (found by review). KEY SHARE does not make such writes wait for each other.
 */
export async function assertStillMemberOutsideVersionedWrite(manager: EntityManager, scope: MemberScope): Promise<void> {
  await manager.query('SELECT 1 FROM families WHERE id = $1 FOR KEY SHARE', [scope.familyId]);
  await assertStillMember(manager, scope);
}
