import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { FamilyContext, type FamilyScope } from '../../common/family-scope/family-context.js';
import { appConfig } from '../../config/configuration.js';
import { AuthService } from '../../modules/auth/auth.service.js';
import { FamiliesService } from '../../modules/families/families.service.js';
import { SyncPushService } from '../../modules/sync/sync-push.service.js';
import { toRegisterDto } from '../account-input.js';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { CliError } from '../cli-error.js';
import { buildDemoHistory, SEEDED_TABLES, type SeededTable, type WireRecord } from './demo-history.js';
import { seedPassword, SEED_USER_NAME } from './seed-options.js';
import { isSeedAccount, SeedRepository, type SeedOwnedAccount } from './seed.repository.js';

/** Records per push: a few pushes per family, each one transaction of set-based statements. */
const SEED_BATCH_SIZE = 1000;
/** Recorded as created_by_device on the seeded rows. */
const SEED_DEVICE_ID = 'hemoday-cli-seed';

export interface SeededFamily {
  email: string;
  /** false: the account existed already (its password was left alone). */
  userCreated: boolean;
  familyId: string;
  inviteCode: string | null;
  /** Records written by this run, per table (0 everywhere on a re-run). */
  written: Record<SeededTable, number>;
  pushes: number;
}

/**
 * Demo data through the app's own rules: the account via AuthService.register
 * (argon2id, email rules, a new family with its invite code), the patient via
 * FamiliesService.update, and the history via SyncPushService.push inside the
 * family's scope — so validation, family versions and the real-time notify
 * apply, and every device's next pull receives it.
 *
 * Only ever in its own families: a family it creates is marked in the
 * transaction that creates it with its account (families.demo_seeded_at,
 * server-only), and an existing account is reused
 * only when it is the one seed created for such a family. A real account
 * named by mistake is refused, never filled with demo history.
 *
 * Idempotent: records have ids derived from the family (seedId) and dates
 * counted back from the family's seeding time, and only ids not yet in the
 * database are pushed. Two runs at once on one family converge: the second
 * takes the account the first made, and pushes only what the first has not.
 */
@Injectable()
export class SeederService {
  constructor(
    private readonly auth: AuthService,
    private readonly families: FamiliesService,
    private readonly sync: SyncPushService,
    private readonly familyContext: FamilyContext,
    private readonly repository: SeedRepository,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
  ) {}

  /** The password of new demo accounts, every option checked first (seedPassword). */
  validateOptions(emails: string[], password: string | undefined): { password: string } {
    return { password: seedPassword(emails, password, this.app) };
  }

  /**
   * `onAccountCreated` is told as soon as this call has created the account (committed), before its
   * history is written: if a later step fails, the account stays (a re-run finishes it, leaving its
   * password alone), and the caller must still say with which password it was made.
   */
  async seedFamily(
    email: string,
    password: string,
    months: number,
    { now = Date.now(), onAccountCreated }: { now?: number; onAccountCreated?: (email: string) => void } = {},
  ): Promise<SeededFamily> {
    const dto = toRegisterDto({ email, password, name: SEED_USER_NAME });
    let [found] = await this.repository.accounts([dto.email]);
    let userCreated = false;
    if (!found) {
      try {
        // Marked as it is made: from its commit on this family is seed's own (its time anchors the demo timeline).
        await this.auth.register(dto, { onFamilyCreated: (manager, familyId) => this.repository.markSeeded(manager, familyId, now) });
        userCreated = true;
        onAccountCreated?.(dto.email);
      } catch (error) {
        // Another seed run made this account meanwhile: carry on with it as a re-run does.
        if (!(error instanceof DomainError && error.code === ErrorCode.EMAIL_TAKEN)) {
          // register commits the account, then issues its sign-in tokens: failing there, it leaves the
          // account. Made by this call if its family bears this call's marker time.
          const [made] = await this.repository.accounts([dto.email]).catch(() => []);
          if (made && isSeedAccount(made) && made.seededAt === now) onAccountCreated?.(dto.email);
          throw error;
        }
      }
      [found] = await this.repository.accounts([dto.email]);
    }
    if (!found || !isSeedAccount(found)) {
      throw new CliError(`${found?.email ?? dto.email} is an existing account that seed did not create; seed never writes demo data into it (use another --email)`);
    }
    const account: SeedOwnedAccount = found;
    const scope: FamilyScope = { userId: account.id, familyId: account.familyId, role: account.role, joinedVersion: account.familyJoinedVersion };

    const history = buildDemoHistory(account.familyId, months, account.seededAt, now);
    const family = (await this.auth.me(account.id)).family!;
    if (family.patient_name === null) {
      // Only on a family without a patient yet: never overwrite what a user edited. Checked again
      // under the family's lock (onlyIf): a member entering the patient after the read above had
      // their edit, committed and answered 200, replaced by the demo patient (found by review).
      await this.familyContext.run(scope, () => this.families.update(history.patient, { onlyIf: (current) => current.patientName === null }));
    }

    const missing = await this.missingRecords(history.records);
    const { pushes, written } = await this.pushInBatches(scope, missing);
    return { email: account.email, userCreated, familyId: account.familyId, inviteCode: family.invite_code, written, pushes };
  }

  private async missingRecords(records: SeedBatch): Promise<Map<SeededTable, WireRecord[]>> {
    const existing = await this.repository.existingIds(new Map(SEEDED_TABLES.map((t) => [t, (records[t] ?? []).map((r) => r.id)])));
    return new Map(SEEDED_TABLES.map((t) => [t, (records[t] ?? []).filter((r) => !existing.has(r.id))]));
  }

  /** Returns the pushes made and the records this run wrote, per table. */
  private async pushInBatches(scope: FamilyScope, missing: Map<SeededTable, WireRecord[]>): Promise<{ pushes: number; written: Record<SeededTable, number> }> {
    const written = Object.fromEntries(SEEDED_TABLES.map((t) => [t, 0])) as Record<SeededTable, number>;
    let pushes = 0;
    for (const batch of toBatches(missing)) {
      const pushed = await this.pushBatch(scope, batch);
      if (!pushed) continue;
      pushes++;
      for (const table of SEEDED_TABLES) written[table] += pushed[table]?.length ?? 0;
    }
    return { pushes, written };
  }

  /** Pushes the batch; returns the records this run wrote, or null when another seed run wrote them all meanwhile. */
  private async pushBatch(scope: FamilyScope, batch: SeedBatch): Promise<SeedBatch | null> {
    for (;;) {
      const changes = Object.fromEntries(Object.entries(batch).map(([table, created]) => [table, { created, updated: [], deleted: [] }]));
      try {
        // A cursor of 0: every pushed id is new, so only a record written meanwhile under the same id conflicts.
        await this.familyContext.run(scope, () => this.sync.push({ body: { changes }, lastPulledAt: null, deviceId: SEED_DEVICE_ID }));
        return batch;
      } catch (error) {
        if (!(error instanceof DomainError && error.code === ErrorCode.SYNC_CONFLICT)) throw error;
        // Another seed run of this family wrote some of these records meanwhile (found by review: the
        // second of two runs failed with the protocol's "pull and push again"): push the others.
        const left = await this.missingRecords(batch);
        const remaining = Object.fromEntries([...left].filter(([, records]) => records.length)) as SeedBatch;
        if (recordCount(remaining) === recordCount(batch)) throw error; // not that: nothing was written meanwhile
        if (!recordCount(remaining)) return null;
        batch = remaining;
      }
    }
  }
}

type SeedBatch = Partial<Record<SeededTable, WireRecord[]>>;

/** At most SEED_BATCH_SIZE records a batch; tables stay in order across batches, so blood tests are pushed no later than their results. */
function toBatches(missing: Map<SeededTable, WireRecord[]>): SeedBatch[] {
  const batches: SeedBatch[] = [];
  let current: SeedBatch = {};
  let size = 0;
  for (const table of SEEDED_TABLES) {
    for (const record of missing.get(table) ?? []) {
      if (size === SEED_BATCH_SIZE) {
        batches.push(current);
        current = {};
        size = 0;
      }
      (current[table] ??= []).push(record);
      size++;
    }
  }
  if (size) batches.push(current);
  return batches;
}

function recordCount(batch: SeedBatch): number {
  return Object.values(batch).reduce((n, records) => n + (records?.length ?? 0), 0);
}
