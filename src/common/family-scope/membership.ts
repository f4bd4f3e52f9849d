import type { EntityManager } from 'typeorm';
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
 * write into a family its caller has left.
 */
export async function assertStillMember(
  manager: EntityManager,
  scope: Pick<FamilyScope, 'userId' | 'familyId' | 'joinedVersion'>,
  error: () => DomainError = membershipChanged,
): Promise<void> {
  const rows: Array<{ family_id: string | null; joined_version: string }> = await manager.query(
    'SELECT family_id::text AS family_id, family_joined_version::text AS joined_version FROM users WHERE id = $1 FOR SHARE',
    [scope.userId],
  );
  const member = rows[0];
  if (!member || member.family_id !== scope.familyId || Number(member.joined_version) !== scope.joinedVersion) throw error();
}
