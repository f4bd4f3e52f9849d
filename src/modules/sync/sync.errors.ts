import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { echoed } from '../../common/errors/echoed-name.js';

/** One invalid value in a push: which table, which record, which column. */
export interface SyncFieldError {
  table: string;
  id: string | null;
  field: string;
  message: string;
}

/** Ids per table, as listed in 403/409 details. */
export type IdsByTable = Record<string, string[]>;

/** Reports at most this many field errors (the first names the culprit; the rest help a developer). */
export const MAX_REPORTED_ERRORS = 50;

function echoedError(error: SyncFieldError): SyncFieldError {
  return { table: echoed(error.table), id: error.id === null ? null : echoed(error.id), field: echoed(error.field), message: error.message };
}

export const SyncErrors = {
  invalid(errors: SyncFieldError[]): DomainError {
    errors = errors.slice(0, MAX_REPORTED_ERRORS).map(echoedError);
    const [first] = errors;
    const where = first.id ? `${first.table}#${first.id}` : first.table;
    return new DomainError(ErrorCode.VALIDATION_FAILED, `Invalid sync record ${where}.${first.field}: ${first.message}`, {
      table: first.table,
      id: first.id,
      field: first.field,
      errors,
    });
  },

  /** Too many new installations (X-Device-Id) of one user in SYNC_NEW_INSTALLATION_WINDOW_SECONDS: 429, as the auth rate limits. */
  tooManyNewInstallations(retryAfterSeconds: number): DomainError {
    return new DomainError(
      ErrorCode.RATE_LIMITED,
      `Too many new installations (X-Device-Id) synced by this account; try again in ${retryAfterSeconds} s; an app keeps the X-Device-Id it made at installation for every sync`,
      { retryAfterSeconds },
    );
  },

  invalidParameter(field: string, message: string): DomainError {
    field = echoed(field);
    return new DomainError(ErrorCode.VALIDATION_FAILED, `${field}: ${message}`, { field });
  },

  /** A pushed id, family_id or reference belongs to another family. Nothing is applied. */
  forbidden(ids: IdsByTable, message = 'The push refers to records of another family'): DomainError {
    return new DomainError(ErrorCode.FORBIDDEN_RECORD, message, { ids });
  },

  /**
   * The caller joined another family or was removed between the request's start and its snapshot
   * (pull) or lock (push): nothing was read or written; sync again.
   */
  membershipChanged(): DomainError {
    return new DomainError(ErrorCode.SYNC_CONFLICT, 'Your family membership changed during this sync; sync again', {
      conflicts: {},
      membership_changed: true,
    });
  },

  /** A push cursor this family never issued (above its version): the client must pull first. */
  cursorAhead(cursor: number, version: number): DomainError {
    return new DomainError(
      ErrorCode.SYNC_CONFLICT,
      `last_pulled_at ${cursor} is later than this family's version ${version}: it was not issued for this family; pull and push again`,
      { conflicts: {}, field: 'last_pulled_at' },
    );
  },

  /** Records changed on the server after the client's last pull: pull, merge and push again. */
  conflict(conflicts: IdsByTable): DomainError {
    return new DomainError(
      ErrorCode.SYNC_CONFLICT,
      'Some pushed records changed on the server after last_pulled_at; pull and push again',
      { conflicts },
    );
  },
};

export function addId(map: IdsByTable, table: string, id: string): void {
  (map[table] ??= []).push(id);
}
