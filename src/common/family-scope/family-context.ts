import { Injectable } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FamilyRole } from '../../modules/auth/entities/user.entity.js';
import { DomainError, ErrorCode } from '../errors/domain-error.js';

/** Who is calling and on behalf of which family, as loaded from the database for this request. */
export interface FamilyScope {
  userId: string;
  familyId: string;
  role: FamilyRole;
  /** Family sync_version when the user joined it (sync cursors older than this get a full replacement). */
  joinedVersion: number;
  /**
   * The sign-in (refresh-token chain) of the request's access token. A write re-checks under its
   * locks that it has not ended since the guard ran (logout, password change or reset), as it
   * re-checks the membership. Absent or null (CLI jobs, a token from before sign-ins had ids): not checked.
   */
  signInId?: string | null;
}

const storage = new AsyncLocalStorage<FamilyScope>();

/**
 * Carries the caller's family for the duration of a request (set by
 * FamilyScopeInterceptor) or of a CLI job (`run`). Scoped repositories read it
 * through `require()`, which throws when it is missing: a query outside a
 * family scope is a bug, and it must never fall back to "all families".
 */
@Injectable()
export class FamilyContext {
  run<T>(scope: FamilyScope, work: () => T): T {
    return storage.run(scope, work);
  }

  current(): FamilyScope | undefined {
    return storage.getStore();
  }

  require(): FamilyScope {
    const scope = storage.getStore();
    if (!scope) throw new DomainError(ErrorCode.FAMILY_SCOPE_MISSING, 'No family in the request context');
    return scope;
  }
}
