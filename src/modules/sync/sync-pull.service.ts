import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager, type QueryFailedError } from 'typeorm';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { FamilyContext, type FamilyScope } from '../../common/family-scope/family-context.js';
import { READ_ONLY_SQL_TRANSACTION, sqlStateOf } from '../../common/postgres-errors.js';
import { signedOut } from '../../common/family-scope/membership.js';
import { FamilyVersionService } from '../../common/versioning/family-version.service.js';
import { syncConfig } from '../../config/configuration.js';
import { withAbortableRunner } from '../../database/abortable-query-runner.js';
import type { BatchStatement } from '../../database/statement-batch.js';
import { SyncErrors } from './sync.errors.js';
import { inClientSchema, SYNC_TABLE_BY_NAME, SYNC_TABLE_NAMES, type SyncTableName } from './sync-schema.js';
import { SyncInstallationsRepository } from './sync-installations.repository.js';
import { SyncRepository, type PullMode, type PullPlan, type PullState } from './sync.repository.js';
import type { SyncPullQueryDto } from './dto/sync.dto.js';
import { FullPullLimiter } from './full-pull-limiter.js';
import { NewInstallationLimiter } from './new-installation-limiter.js';
import type { CountedBucket } from '../auth/rate-limit.repository.js';

/** WatermelonDB's `migration` argument (tables created and columns added since the last sync). */
export interface SyncMigration {
  from?: number;
  tables: string[];
  columns: Array<{ table: string; columns: string[] }>;
}

/**
 * Pull: one REPEATABLE READ, READ ONLY transaction reads the family's
 * sync_version and every change from the same snapshot. Writers take versions
 * under the family row lock and commit in version order, so everything at or
 * below that sync_version is in the snapshot and everything above it is
 * returned by the next pull: no change can be missed.
 *
 * The caller's membership is read again in that snapshot: the guard read it
 * before the snapshot began, and a join or removal committed in between would
 * otherwise pair the old family's data with a cursor past the new membership
 * (the device would then pull the new family incrementally and miss its
 * history). A changed membership answers 409; the client syncs again.
 */
@Injectable()
export class SyncPullService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: SyncRepository,
    private readonly installations: SyncInstallationsRepository,
    private readonly familyContext: FamilyContext,
    private readonly fullPulls: FullPullLimiter,
    private readonly versions: FamilyVersionService,
    private readonly newInstallations: NewInstallationLimiter,
    @Inject(syncConfig.KEY) private readonly config: ConfigType<typeof syncConfig>,
  ) {}

  /** The response body as JSON text, built by PostgreSQL (sent verbatim: turbo-ready). */
  async pull(query: SyncPullQueryDto, deviceId: string | null, signal?: AbortSignal): Promise<string> {
    const scope = this.familyContext.require();
    const cursor = query.last_pulled_at || null;
    const migration = parseMigration(query.migration);
    const request = { scope, cursor, migration, deviceId, schemaVersion: query.schema_version ?? null, signal };
    // A large full pull waits for its turn (FullPullLimiter) holding no connection: a first sync
    // before it starts, a replacement (known only in the snapshot) by starting again with one.
    let endTurn: (() => void) | undefined;
    /** A new installation counted for this pull (NewInstallationLimiter), given back if the pull then fails. */
    let admitted: CountedBucket[] | undefined;
    try {
      if (cursor === null && (await this.needsTurn(this.dataSource.manager, scope.familyId))) endTurn = await this.fullPulls.acquire(scope.userId, signal);
      let forceReplacement = false;
      // Each detour is taken at most once: a turn is kept, a raised version stays above the cursor, an
      // installation admitted stays so.
      for (let attempt = 0; attempt < 4; attempt++) {
        const outcome = await this.pullOnce({ ...request, forceReplacement, installationAdmitted: admitted !== undefined }, endTurn !== undefined);
        if (outcome === NEEDS_TURN) endTurn = await this.fullPulls.acquire(scope.userId, signal);
        else if (outcome === NEEDS_ADMISSION) {
          // A new installation: counted, in a statement of its own (the snapshot is READ ONLY), or
          // refused 429 with nothing written. The pull then starts again, admitted.
          admitted = await this.newInstallations.admit(scope.userId);
        } else if (outcome === NEEDS_VERSION_ABOVE_CURSOR) {
          // A replacement whose answer would not be later than the phone's cursor: it holds another
          // family's records up to a later version (another user signed in on it). WatermelonDB
          // reports a timestamp below its cursor as a server bug, and an answer at the cursor itself
          // would name two families at one timestamp of this installation (SyncRepository.pullState).
          // So the family's version is raised past the cursor first (a write of no rows), and the
          // pull starts again, still a replacement.
          await this.versions.writeForFamily(scope.familyId, async () => true, { above: cursor! });
          forceReplacement = true;
        } else return outcome;
      }
      throw new Error('a pull asked for the same detour twice');
    } catch (error) {
      // Counted, but its cursor not recorded: the installation is still new, and its retry counts it
      // again. So the count goes back (found by review: a phone whose first sync was cut, its app sent
      // to the background, spent one of the user's new installations each time). Only if nothing was
      // recorded, as read once the pull's statements have answered: a client hanging up as its batch
      // ends fails the pull (RequestAbandonedError) with the cursor recorded all the same, and giving
      // that back would let a client that hangs up at the right moment record installations uncounted.
      // Best effort: a database down keeps the count.
      if (admitted) await this.giveBackUnrecorded(admitted, deviceId!, scope.familyId).catch(() => undefined);
      throw error;
    } finally {
      endTurn?.();
    }
  }

  private async pullOnce(
    request: PullRequest,
    holdsTurn: boolean,
  ): Promise<string | typeof NEEDS_TURN | typeof NEEDS_VERSION_ABOVE_CURSOR | typeof NEEDS_ADMISSION> {
    const { scope, cursor, deviceId } = request;
    return withAbortableRunner(this.dataSource, request.signal, async (runner) => {
      /** What the batch sends after the snapshot's COMMIT: the only statements of a pull that write. */
      let afterCommit: readonly BatchStatement[] = [];
      try {
        // BEGIN goes out with the state read, in one round trip (statement-batch.ts).
        const state = await this.repository.pullState(runner.manager, scope.userId, scope.familyId, deviceId, cursor ?? 0, scope.signInId ?? null, [BEGIN_SNAPSHOT]);
        assertCallerUnchanged(state, scope);
        const plan = planPull({
          familyId: scope.familyId,
          joinedVersion: scope.joinedVersion,
          cursor,
          deviceId,
          version: state.version,
          migration: request.migration,
          deviceHoldsFamily: state.deviceHoldsFamily,
          deviceHoldsOtherFamily: state.deviceHoldsOtherFamily,
          knownToHoldOtherFamily: state.knownToHoldOtherFamily,
          schemaVersion: request.schemaVersion,
          forceReplacement: request.forceReplacement,
        });
        // What this answer's timestamp, once the phone's cursor, will mean (SyncRepository.pullState).
        // An answer at the phone's own cursor changes nothing it holds, so it is not recorded — unless it
        // is a replacement: unrecorded, the cursor would go on naming the family the phone no longer
        // holds (found by review, with versions ahead of the clock); recorded, the timestamp names two
        // families, and the next pull replaces.
        const records = plan.timestamp !== cursor || plan.replacement;
        // A replacement, or a migration sync (the tables it names are read whole, as a first sync reads
        // them all): known only here, so a large one rolls back and waits for its turn. A first sync was
        // measured before it began.
        const whole = cursor === null ? [] : tablesReadWhole(plan);
        if (whole.length && !holdsTurn && (await this.needsTurn(runner.manager, scope.familyId, whole))) {
          await runner.query('ROLLBACK');
          return NEEDS_TURN;
        }
        // A cursor recorded for an installation never seen in this family nor pushed from by this user:
        // counted first (NewInstallationLimiter), on this rare path only. After the turn, not before: a
        // pull that then waited in vain for one (503 SERVER_BUSY) had counted an installation it never
        // recorded, and a phone switching to a large family on a busy server was refused 429 for the
        // rest of the window after a few retries (found by review).
        if (records && deviceId !== null && !state.installationKnown && !request.installationAdmitted) {
          await runner.query('ROLLBACK');
          return NEEDS_ADMISSION;
        }
        if (plan.replacement && cursor !== null && cursor >= plan.timestamp && (state.cursorIssued || cursor <= state.nowMs + CLOCK_SKEW_MS)) {
          await runner.query('ROLLBACK');
          return NEEDS_VERSION_ABOVE_CURSOR;
        }
        afterCommit = records ? this.installations.recordCursor(deviceId, scope.familyId, plan.timestamp) : [];
        // The body, COMMIT and the record go out in one round trip, on this connection (a second pool
        // connection taken while holding this one deadlocks under load: every slot held by a pull
        // waiting for another). A failing body stops the batch there: nothing recorded, the snapshot
        // rolled back below.
        return await this.repository.pullBody(runner.manager, plan, scope.userId, [{ text: 'COMMIT' }, ...afterCommit]);
      } catch (error) {
        await runner.query('ROLLBACK').catch(() => undefined);
        throw writeInReadOnlySnapshot(error, afterCommit) ?? error;
      }
    });
  }

  private async giveBackUnrecorded(admitted: CountedBucket[], deviceId: string, familyId: string): Promise<void> {
    if (!(await this.installations.cursorRecorded(this.dataSource.manager, deviceId, familyId))) await this.newInstallations.giveBack(admitted);
  }

  /**
   * Whether a full read of the family (of `tables`; all of them by default) is large enough to wait
   * for a turn (SYNC_FULL_PULL_TURN_BYTES of live rows).
   */
  private async needsTurn(manager: EntityManager, familyId: string, tables?: readonly SyncTableName[]): Promise<boolean> {
    return (await this.repository.liveRowBytes(manager, familyId, tables)) > this.config.fullPullTurnBytes;
  }
}

/**
 * The caller is still what the guard saw, as the pull's snapshot reads it, and the family exists.
 * No user row: the account was deleted since the guard ran, which ends every sign-in: 401, as a
 * write answers (not 409, which would send the app to sync again). A changed membership: 409. The
 * sign-in after the membership, in a write's order (a removal ends the sign-ins too, and answers as
 * a membership change): one ended since the guard ran (a logout, a password changed on another
 * phone because this one was lost) gets 401, as its next request would, not the family's records.
 */
function assertCallerUnchanged(state: PullState | null, scope: FamilyScope): asserts state is PullState & { version: number } {
  if (!state) throw signedOut();
  if (state.familyId !== scope.familyId || state.joinedVersion !== scope.joinedVersion) throw SyncErrors.membershipChanged();
  if (!state.signedIn) throw signedOut();
  if (state.version === null) throw new DomainError(ErrorCode.NOT_FOUND, 'Family not found');
}

/**
 * The tables a pull reads whole, every live row (a first sync, a replacement, the tables a migration
 * sync names): what FullPullLimiter's turns are for, whatever the pull is called. Incremental tables
 * read an index range.
 */
export function tablesReadWhole(plan: Pick<PullPlan, 'modes'>): SyncTableName[] {
  return (Object.entries(plan.modes) as Array<[SyncTableName, PullMode]>).filter(([, mode]) => mode !== 'incremental').map(([name]) => name);
}

/**
 * A 25006 (read_only_sql_transaction) from a statement of the pull's own READ ONLY snapshot: the
 * pull wrote in it, which fails on any database, a primary too. A bug, answered 500 and logged as
 * one: isDatabaseUnavailable takes 25006 for a read-only database (a hot standby), and a client told
 * 503 would retry a pull that can never succeed. A read-only database refuses only the cursor's
 * record, after the COMMIT (a 503 then, as for every write).
 */
export function writeInReadOnlySnapshot(error: unknown, afterCommit: readonly BatchStatement[]): Error | undefined {
  if (sqlStateOf(error) !== READ_ONLY_SQL_TRANSACTION) return undefined;
  const statement = (error as QueryFailedError).query;
  if (afterCommit.some((s) => s.text === statement)) return undefined;
  return new Error(`a statement of the pull's READ ONLY snapshot tried to write: ${(error as Error).message}`, { cause: error });
}

/** The pull's snapshot: sent with its first statement (SyncRepository.pullState). */
const BEGIN_SNAPSHOT = { text: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' };

/** pullOnce's answer for a large replacement asked without a turn: take one, then pull again. */
const NEEDS_TURN: unique symbol = Symbol('needs a turn');
/** pullOnce's answer for a pull that would record a new installation not counted yet: count it (or refuse), then pull again. */
const NEEDS_ADMISSION: unique symbol = Symbol('needs a new installation admitted');
/** pullOnce's answer for a replacement whose timestamp would be below the phone's cursor: raise the family's version, then pull again. */
const NEEDS_VERSION_ABOVE_CURSOR: unique symbol = Symbol('needs a version above the cursor');
/**
 * Versions follow the database's clock (greatest(now_ms, previous + 1)): a cursor further ahead of
 * that clock than this, and not on record for the installation, was made up, not issued, and the
 * family's version is not raised to meet it (a member could otherwise push it toward 2^53, where
 * JavaScript numbers lose their units). The database's clock (read in the pull's snapshot), not this
 * instance's: an app host whose clock was more than this behind the database's took cursors it had
 * issued itself for made up, and answered such a replacement below the phone's cursor, which
 * WatermelonDB logs as a server bug (found in review). A cursor on record was answered by the server,
 * a version some family had, however far ahead of the clock (versions taken while the database's
 * clock ran fast stay ahead of it once it is set back): it is met as well (found in review).
 */
const CLOCK_SKEW_MS = 10 * 60 * 1000;

interface PullRequest {
  scope: FamilyScope;
  cursor: number | null;
  migration: SyncMigration | null;
  deviceId: string | null;
  schemaVersion: number | null;
  /** Aborts when the client hangs up: a waiting pull leaves the queue, a running one is cancelled. */
  signal?: AbortSignal;
  /** A replacement whatever the cursor now says (it was one before the family's version was raised past the cursor). */
  forceReplacement?: boolean;
  /** A new installation already counted by NewInstallationLimiter (an earlier attempt of this pull). */
  installationAdmitted?: boolean;
}

/** What a pull is planned from: the request, and what its snapshot read (SyncRepository.pullState; absent: false). */
export interface PullInput extends Partial<Pick<PullState, 'deviceHoldsFamily' | 'deviceHoldsOtherFamily' | 'knownToHoldOtherFamily'>> {
  familyId: string;
  joinedVersion: number;
  cursor: number | null;
  deviceId: string | null;
  /** families.sync_version in the pull snapshot. */
  version: number;
  migration: SyncMigration | null;
  /** The client's app schema version (`schema_version`); null when it did not say. */
  schemaVersion?: number | null;
  /** Replace whatever the cursor says (see SyncPullService.pull). */
  forceReplacement?: boolean;
}

/** Decides how each table is read. Pure, unit-tested. */
export function planPull(input: PullInput): PullPlan {
  const { cursor, version, joinedVersion } = input;
  const schemaVersion = input.schemaVersion ?? null;
  const modes: Partial<Record<SyncTableName, PullMode>> = {};
  // A cursor from before the caller joined this family (or larger than any version this family ever had)
  // was issued for another family's data: the device must replace what it holds. So must a device
  // whose last full snapshot was of another family, whatever its cursor: a second line of defence
  // behind the join's versioning (a cursor of the family left can never reach the join's version).
  const joinedSinceCursor = cursor !== null && cursor < joinedVersion && !input.deviceHoldsFamily;
  const replacement =
    cursor !== null &&
    (joinedSinceCursor || cursor > version || (input.deviceHoldsOtherFamily ?? false) || (input.forceReplacement ?? false));
  const full = cursor === null || replacement;
  // A replacement sends every live row: as `created` only to a phone the installation's records say
  // holds another family (the record of its cursor, or else its latest recorded answer, names another
  // family: it holds none of these rows); to any other by the cursor, as an incremental pull does
  // (`held`: `updated` up to it, and the deletions since it). Such a phone may well hold this family — a database restored from
  // an older backup (every cursor ahead of it, unrecorded), a member removed and added back, a cursor
  // pulled without X-Device-Id — with records it deleted offline and has not pushed yet: sent as
  // `created`, WatermelonDB destroys such a deletion and re-creates the record, and the deletion never
  // reaches the server (found by review). The guess is not symmetric, so nothing else is guessed: `held`
  // to a phone that holds another family only makes WatermelonDB log ("doesn't exist locally") as it
  // creates each record, the same records in the end; `created` to a phone of this family undoes its
  // unpushed deletions. (A join after the cursor is no proof: the user may have come back to this
  // family; telling them apart from the user's membership history took three rounds of review and still
  // had holes.) An app that sends X-Device-Id, as it should, has its cursors recorded: no log either way.
  const fullMode: PullMode = replacement && !input.knownToHoldOtherFamily ? 'held' : 'full';
  // A table newer than the client's schema is left out: the client has nowhere to put it.
  for (const name of SYNC_TABLE_NAMES) if (inClientSchema(SYNC_TABLE_BY_NAME.get(name)!, schemaVersion)) modes[name] = full ? fullMode : 'incremental';
  // A migration sync of a phone that may hold this family's rows (an incremental pull, a `held`
  // replacement): a table new to it is read whole as `created` (it holds none of its rows), and a
  // table that gained columns whole (`columns`; a `held` table already is). Everything else
  // (a first sync, a `full` replacement) reads every table whole as `created` anyway.
  const mayHoldThisFamily = !full || fullMode === 'held';
  if (mayHoldThisFamily && input.migration) {
    const known = (table: string): table is SyncTableName => SYNC_TABLE_BY_NAME.has(table) && modes[table as SyncTableName] !== undefined;
    if (!full) for (const { table } of input.migration.columns) if (known(table)) modes[table] = 'columns';
    for (const table of input.migration.tables) if (known(table)) modes[table] = 'full';
  }
  return { familyId: input.familyId, cursor: cursor ?? 0, deviceId: input.deviceId, timestamp: version, replacement, modes, schemaVersion };
}

/** Parses the `migration` query parameter; tables unknown to the server (client-only) are ignored. */
export function parseMigration(raw: string | undefined): SyncMigration | null {
  if (raw === undefined || raw === '' || raw === 'null' || raw === 'undefined') return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw SyncErrors.invalidParameter('migration', 'must be JSON');
  }
  if (value === null) return null;
  const shape = value as Partial<SyncMigration>;
  const tables = shape.tables ?? [];
  const columns = shape.columns ?? [];
  const valid =
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Array.isArray(tables) &&
    tables.every((t) => typeof t === 'string') &&
    Array.isArray(columns) &&
    columns.every((c) => c && typeof c === 'object' && typeof c.table === 'string' && Array.isArray(c.columns) && c.columns.every((n) => typeof n === 'string'));
  if (!valid) throw SyncErrors.invalidParameter('migration', 'must be {from, tables: string[], columns: [{table, columns: string[]}]}');
  return { from: typeof shape.from === 'number' ? shape.from : undefined, tables, columns };
}
