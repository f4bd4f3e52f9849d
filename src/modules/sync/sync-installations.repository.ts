import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { prepared, type BatchStatement } from '../../database/statement-batch.js';
import type { LastPush } from './sync-push.rules.js';

/** Cursors kept per installation and family (see recordCursor). */
const CURSORS_KEPT = 50;

/**
 * What the server remembers of each installation (`X-Device-Id`): the cursors it was answered, with
 * whose family's data (`sync_cursors`, read by SyncRepository.pullState in the pull's snapshot),
 * and its last committed push (`sync_last_pushes`, to recognize that push repeated after its
 * answer was lost).
 */
@Injectable()
export class SyncInstallationsRepository {
  /**
   * Writes down that this installation was answered `version` of `familyId`'s data (see
   * SyncRepository.pullState), after the pull's snapshot and on its connection. The caller writes
   * only answers that move the cursor, and replacements (see SyncPullService.pullOnce); only the newest
   * CURSORS_KEPT of each family per installation are kept: a phone whose cursor is older than that
   * (that many answers lost, or syncs of another phone of its family sharing its id) is not found,
   * and is answered a replacement (SyncRepository.pullState). Counted per family, not for the whole
   * installation: the id is the client's word, so answers to another family under it (a phone
   * restored from another family's backup, or a member of another family sending a copied id on
   * purpose, 51 pulls) pushed this family's phone's cursor off the record, and its next pull was a
   * replacement listing every record as `created`, which re-created the records the phone had
   * deleted offline over their unpushed deletions (found by review). Pulls without a device id write
   * nothing (no statement): the pull sends it with its body and COMMIT. The DELETE does not see the
   * row its WITH inserts (one snapshot): the new version is counted among the kept by hand, or 51 stayed.
   */
  recordCursor(deviceId: string | null, familyId: string, version: number): BatchStatement[] {
    if (!deviceId) return [];
    return [
      prepared(
        `WITH recorded AS (
               INSERT INTO sync_cursors (device_id, version, family_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
             )
             DELETE FROM sync_cursors
              WHERE device_id = $1 AND family_id = $3
                AND version < (SELECT version FROM (SELECT version FROM sync_cursors WHERE device_id = $1 AND family_id = $3
                                                     UNION SELECT $2::bigint) kept
                                ORDER BY version DESC OFFSET ${CURSORS_KEPT - 1} LIMIT 1)`,
        [deviceId, version, familyId],
      ),
    ];
  }

  /**
   * Trims the installations no answer has moved for `idleDays` (sync:cleanup) down to their newest
   * cursor of each family: without it, every installation ever used keeps CURSORS_KEPT records for
   * good. Of each family, as recordCursor counts them: kept only the newest of all, one answer to
   * another family under the same id (copied) after this family's last one took the phone's cursor
   * off the record, and its next pull undid its offline deletions (see recordCursor). The older
   * ones only name the cursors of answers a phone did not apply (lost on the way); a phone that
   * pulled since its last answer holds the newest (an answer at its own cursor records nothing), so
   * one coming back after months pulls incrementally as before. Only a phone whose very last answer
   * was lost, or a second phone with the same id, finds its cursor gone: a replacement, never an
   * incremental pull on top of something unknown (SyncRepository.pullState). A pull racing the trim
   * records its answer after its snapshot, which the trim does not see and so keeps. Counts only,
   * with `dryRun`.
   */
  async trimIdleInstallations(manager: EntityManager, idleDays: number, dryRun: boolean): Promise<{ installations: number; cursors: number }> {
    // Idle: no answer to the installation (in any family) for idleDays; then each family's newest is kept.
    const idle = `SELECT device_id, family_id, max(version) AS newest FROM sync_cursors
                   WHERE device_id IN (SELECT device_id FROM sync_cursors GROUP BY device_id HAVING max(recorded_at) < now() - make_interval(days => $1))
                   GROUP BY device_id, family_id HAVING count(*) > 1`;
    const older = 'idle.device_id = c.device_id AND idle.family_id = c.family_id AND c.version < idle.newest';
    const trimmed = `SELECT c.device_id FROM sync_cursors c JOIN (${idle}) idle ON ${older}`;
    const rows: Array<{ installations: string; cursors: string }> = await manager.query(
      `WITH trimmed AS (${
        dryRun
          ? trimmed
          : `DELETE FROM sync_cursors c USING (${idle}) idle WHERE ${older} RETURNING c.device_id`
      })
       SELECT count(DISTINCT device_id)::text AS installations, count(*)::text AS cursors FROM trimmed`,
      [idleDays],
    );
    return { installations: Number(rows[0].installations), cursors: Number(rows[0].cursors) };
  }

  /**
   * For each pushed record (`<table>:<id>` → its fingerprint), the version its values were written
   * with by a last committed push of this installation in `familyId` that carried the same
   * fingerprint (see LastPush), whichever user was signed in: members of one family sharing a
   * tablet keep its database, and the next user's sync pushes the previous user's unacknowledged
   * edit again (found by review). The fingerprint holds the edit's own updated_at, so the same
   * fingerprint from the same database is that edit, whoever sends it. The newest such version.
   * A statement for the push's look-up batch; its rows are read by lastPushRows.
   */
  lastPush(deviceId: string, familyId: string, fingerprints: Map<string, string>): BatchStatement {
    return prepared(
      `SELECT e.key, w.fingerprint, max((e.value ->> 1)::bigint)::text AS version
             FROM sync_last_pushes p
            CROSS JOIN LATERAL jsonb_each(p.fingerprints) e
             JOIN unnest($3::text[], $4::text[]) AS w(key, fingerprint) ON w.key = e.key AND w.fingerprint = e.value ->> 0
            WHERE p.device_id = $1 AND p.family_id = $2
            GROUP BY e.key, w.fingerprint`,
      [deviceId, familyId, [...fingerprints.keys()], [...fingerprints.values()]],
    );
  }

  /** What lastPush's statement found. */
  lastPushRows(rows: unknown[]): LastPush {
    return new Map((rows as Array<{ key: string; fingerprint: string; version: string }>).map((r) => [r.key, [r.fingerprint, Number(r.version)]]));
  }

  /**
   * Replaces the device's last push with this one (in its transaction: only a committed push is
   * remembered). Its one row says whether the installation was new (read by isNewInstallation): no
   * last push of it by this user, no cursor of it in this family, as pullState's `installationKnown`
   * reads them (the statement's snapshot: before its own insert). The push then counts it
   * (NewInstallationLimiter) in its transaction, on that rare path only.
   */
  recordLastPush(deviceId: string, userId: string, familyId: string, fingerprints: Record<string, [string, number]>): BatchStatement {
    return prepared(
      `WITH known AS (
               SELECT EXISTS (SELECT 1 FROM sync_last_pushes WHERE device_id = $1 AND user_id = $2)
                   OR EXISTS (SELECT 1 FROM sync_cursors WHERE device_id = $1 AND family_id = $3) AS known
             )
           INSERT INTO sync_last_pushes (device_id, user_id, family_id, fingerprints) VALUES ($1, $2, $3, $4::jsonb)
           ON CONFLICT (device_id, user_id) DO UPDATE SET family_id = EXCLUDED.family_id, fingerprints = EXCLUDED.fingerprints
           RETURNING NOT (SELECT known FROM known) AS new_installation`,
      [deviceId, userId, familyId, JSON.stringify(fingerprints)],
    );
  }

  /** Whether a cursor of this installation is on record in this family (a pull recorded its answer). */
  async cursorRecorded(manager: EntityManager, deviceId: string, familyId: string): Promise<boolean> {
    const [row]: Array<{ recorded: boolean }> = await manager.query(
      'SELECT EXISTS (SELECT 1 FROM sync_cursors WHERE device_id = $1 AND family_id = $2) AS recorded',
      [deviceId, familyId],
    );
    return row.recorded;
  }

  /** What recordLastPush's statement said: the installation was new to this user and family. */
  isNewInstallation(rows: unknown[]): boolean {
    return (rows as Array<{ new_installation: boolean }>)[0]?.new_installation === true;
  }
}
