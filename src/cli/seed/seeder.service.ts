import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { FamilyContext, type FamilyScope } from '../../common/family-scope/family-context.js';
import { appConfig } from '../../config/configuration.js';
import { AuthService } from '../../modules/auth/auth.service.js';
import { FamiliesService } from '../../modules/families/families.service.js';
import { SyncPushService } from '../../modules/sync/sync-push.service.js';
import { toRegisterDto } from '../account-input.js';
import { CliError } from '../cli-error.js';
import { buildDemoHistory, SEEDED_TABLES, type SeededTable, type WireRecord } from './demo-history.js';
import { SeedRepository } from './seed.repository.js';

/** Records per push: a few pushes per family, each one transaction of set-based statements. */
export const SEED_BATCH_SIZE = 1000;
/** Recorded as created_by_device on the seeded rows. */
export const SEED_DEVICE_ID = 'hemoday-cli-seed';

export interface SeededFamily {
  email: string;
  /** false: the account existed already (its password was left alone). */
  userCreated: boolean;
  familyId: string;
  inviteCode: string;
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
 * Idempotent: an existing account is reused, records have ids derived from
 * the family (seedId), and only ids not yet in the database are pushed.
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

  /** `demo@x` for the first family, then `demo+2@x`, `demo+3@x`, … */
  emailsFor(email: string, count: number): string[] {
    const at = email.lastIndexOf('@');
    return Array.from({ length: count }, (_, i) => (i === 0 ? email : `${email.slice(0, at)}+${i + 1}${email.slice(at)}`));
  }

  /** --reset deletes data: development and test databases only. Checked before connecting to anything. */
  assertResetAllowed(): void {
    if (this.app.nodeEnv !== 'development' && this.app.nodeEnv !== 'test') {
      throw new CliError(`--reset deletes data and is refused when NODE_ENV=${this.app.nodeEnv} (allowed: development, test)`);
    }
  }

  /** Deletes the accounts and families a previous seed made with these emails. */
  async reset(emails: string[]): Promise<{ users: number; families: number }> {
    this.assertResetAllowed();
    return this.repository.deleteSeeded(emails);
  }

  async seedFamily(email: string, password: string, months: number, now = Date.now()): Promise<SeededFamily> {
    const dto = toRegisterDto({ email, password, name: 'Demo Parent' });
    let user = await this.auth.findByEmail(dto.email);
    const userCreated = !user;
    if (!user) {
      await this.auth.register(dto);
      user = (await this.auth.findByEmail(dto.email))!;
    }
    if (!user.familyId || !user.role) throw new CliError(`${dto.email} exists but belongs to no family; use another --email`);
    const scope: FamilyScope = { userId: user.id, familyId: user.familyId, role: user.role, joinedVersion: user.familyJoinedVersion };

    const history = buildDemoHistory(user.familyId, months, now);
    const family = (await this.auth.me(user.id)).family!;
    if (family.patient_name === null) {
      // Only on a family without a patient yet: never overwrite what a user edited.
      await this.familyContext.run(scope, () => this.families.update(history.patient));
    }

    const missing = await this.missingRecords(history.records);
    const pushes = await this.pushInBatches(scope, missing);
    const written = Object.fromEntries(SEEDED_TABLES.map((t) => [t, missing.get(t)?.length ?? 0])) as Record<SeededTable, number>;
    return { email: user.email, userCreated, familyId: user.familyId, inviteCode: family.invite_code, written, pushes };
  }

  private async missingRecords(records: Record<SeededTable, WireRecord[]>): Promise<Map<SeededTable, WireRecord[]>> {
    const existing = await this.repository.existingIds(new Map(SEEDED_TABLES.map((t) => [t, records[t].map((r) => r.id)])));
    return new Map(SEEDED_TABLES.map((t) => [t, records[t].filter((r) => !existing.has(r.id))]));
  }

  /** Tables stay in order across batches, so blood tests are pushed no later than their results. */
  private async pushInBatches(scope: FamilyScope, missing: Map<SeededTable, WireRecord[]>): Promise<number> {
    const batches: Array<Record<string, { created: WireRecord[]; updated: WireRecord[]; deleted: string[] }>> = [];
    let current: (typeof batches)[number] = {};
    let size = 0;
    for (const table of SEEDED_TABLES) {
      for (const record of missing.get(table) ?? []) {
        if (size === SEED_BATCH_SIZE) {
          batches.push(current);
          current = {};
          size = 0;
        }
        (current[table] ??= { created: [], updated: [], deleted: [] }).created.push(record);
        size++;
      }
    }
    if (size) batches.push(current);
    for (const changes of batches) {
      // A cursor of 0 is safe here: every pushed id is new, so no conflict check can trip unless another writer races us.
      await this.familyContext.run(scope, () => this.sync.push({ body: { changes }, lastPulledAt: null, deviceId: SEED_DEVICE_ID }));
    }
    return batches.length;
  }
}
