import type { EntityManager } from 'typeorm';
import { prepared, runBatch, type BatchStatement } from '../../database/statement-batch.js';
import { DomainError, ErrorCode } from '../errors/domain-error.js';
import { unauthenticated } from '../errors/unauthenticated.js';
import type { FamilyScope } from './family-context.js';

/** The caller's family membership changed after the guard read it (removed, or joined another family). */
export const membershipChanged = (): DomainError =>
  new DomainError(ErrorCode.MEMBERSHIP_CHANGED, 'Your family membership changed during this request; reload and try again', { membership_changed: true });

/** The request's sign-in ended after the guard read it (logout, password change or reset): as its next request would be answered. */
export const signedOut = (): DomainError => unauthenticated();

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
  if (lock === '') {
    // Nothing to wait for without a lock: one statement, its rows both the membership and the sign-in.
    const rows: unknown[] = await manager.query(`SELECT ${MEMBERSHIP}, ${SIGNED_IN} AS signed_in FROM users WHERE id = $1`, [scope.userId, scope.signInId ?? null]);
    return verifyMembership(rows, scope, error, { owner }, rows);
  }
  const [membership, signIn] = stillMemberStatements(scope);
  const member = await manager.query(membership.text, membership.values as unknown[]);
  // Its own statement, after the lock is held: see stillMemberStatements.
  const signedIn = scope.signInId ? await manager.query(signIn.text, signIn.values as unknown[]) : undefined;
  verifyMembership(member, scope, error, { owner }, signedIn);
}

/** The membership's columns of the user's row. */
const MEMBERSHIP = 'family_id::text AS family_id, family_joined_version::text AS joined_version, role';

/**
 * SQL: whether the sign-in `signIn` (a refresh-token chain id parameter; NULL: not asked) of the user
 * `user` (a column or parameter) still has a token not revoked. Every re-check of a sign-in (a write's,
 * a pull's, the event stream's) asks it in these words.
 */
export const signedInSql = (user: string, signIn: string): string =>
  `(${signIn}::uuid IS NULL OR EXISTS (SELECT 1 FROM refresh_tokens rt WHERE rt.chain_id = ${signIn}::uuid AND rt.user_id = ${user} AND rt.revoked_at IS NULL))`;

/** Whether the sign-in $2 (NULL: not asked) of the user $1 still has a token not revoked. */
const SIGNED_IN = signedInSql('$1::uuid', '$2');

/**
 * Inside a transaction that has just locked the user's row (a join, a founding: FOR NO KEY UPDATE):
 * 401 when their sign-in `signInId` (a refresh-token chain; null: not asked, a token from before
 * sign-ins had ids) has ended since the guard read it — a password changed or reset on another
 * phone (which updates that row, so the lock waited for it), or a logout. Its own statement after
 * the lock, as in stillMemberStatements: it sees what the change committed.
 */
export async function assertStillSignedIn(manager: EntityManager, userId: string, signInId: string | null | undefined): Promise<void> {
  if (!signInId) return;
  const [rows] = await runBatch(manager, [signedInStatement(userId, signInId)]);
  if (!(rows as Array<{ signed_in: boolean }>)[0]?.signed_in) throw signedOut();
}

/** Whether the sign-in `signInId` (null: not asked) of the user still has a token not revoked: `signed_in`. */
function signedInStatement(userId: string, signInId: string | null): BatchStatement {
  return prepared(`SELECT ${SIGNED_IN} AS signed_in`, [userId, signInId]);
}

/**
 * assertStillMember's statements, to send with others (FamilyVersionService sends them with its
 * version bump): the user's membership, locked; then whether the sign-in `signInId` (a refresh-token
 * chain, as JwtAuthGuard and the event stream check it) still has a token not revoked (true when not
 * asked). Two statements, not one: a password change or reset holds the users row the first locks
 * while it revokes the tokens, and a statement that waited for it re-reads that row but reads
 * everything else as it was when it began: the tokens still live, and a lost phone's push queued
 * there was applied after "every other sign-in ends at once" had committed (found by review). The
 * second statement begins once the lock is held (READ COMMITTED: a snapshot per statement), so it
 * sees such a change; a logout (which does not touch the users row) that commits after it is
 * concurrent with the write, which goes on, as one that passed this check a moment earlier does.
 */
export function stillMemberStatements(scope: Pick<FamilyScope, 'userId' | 'signInId'>): [BatchStatement, BatchStatement] {
  return [
    prepared(`SELECT ${MEMBERSHIP} FROM users WHERE id = $1 FOR SHARE`, [scope.userId]),
    signedInStatement(scope.userId, scope.signInId ?? null),
  ];
}

/**
 * Throws unless the rows of a membership statement show `scope`'s membership (and, with `owner`, its
 * ownership): `error()`; or, a member whose sign-in (the rows of the sign-in statement, when asked) ended, 401.
 */
export function verifyMembership(
  rows: unknown[],
  scope: Pick<FamilyScope, 'familyId' | 'joinedVersion'>,
  error: () => DomainError = membershipChanged,
  options: { owner?: boolean } = {},
  signIn?: unknown[],
): void {
  const member = rows[0] as { family_id: string | null; joined_version: string; role: string | null } | undefined;
  const signedIn = (signIn?.[0] as { signed_in?: boolean } | undefined)?.signed_in;
  // The account deleted meanwhile: its sign-ins went with it, and its next request gets 401 (a membership
  // change would send the app to pull, to get that 401 then). Without a sign-in to ask about: as before.
  if (!member && signedIn === false) throw signedOut();
  if (!member || member.family_id !== scope.familyId || Number(member.joined_version) !== scope.joinedVersion) throw error();
  // After the membership: a removal ends the sign-ins too, and answers as a membership change.
  if (signedIn === false) throw signedOut();
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
