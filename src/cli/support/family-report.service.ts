import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { syncConfig, uploadConfig } from '../../config/configuration.js';
import { AuthService } from '../../modules/auth/auth.service.js';
import { normalizeInviteCode } from '../../modules/families/invite-code.js';
import { isUuid } from '../../common/http/uuid.js';
import { CliError } from '../cli-error.js';
import { FamilyReportRepository, type FamilyRow, type MemberRow, type TableCount } from './family-report.repository.js';
import { printableEmail } from '../printable.js';

/**
 * What `family:show` prints (and `--json` serializes): versions are numbers, every time is an
 * ISO 8601 string (UTC), whatever the column's type (BIGINT milliseconds or timestamptz).
 */
export interface FamilyReport {
  family: {
    id: string;
    invite_code: string | null;
    patient_name: string | null;
    patient_birth_date: string | null;
    patient_weight_kg: number | null;
    patient_blood_group: string | null;
    patient_diagnosis: string | null;
    sync_version: number;
    created_at: string;
    demo_seeded_at: string | null;
  };
  members: Array<{ id: string; email: string; name: string | null; role: string; created_at: string }>;
  counts: TableCount[];
  /** Rows in the synced data tables, deleted ones included (the counts above, summed), against SYNC_FAMILY_MAX_RECORDS. */
  records: { stored_records: number; max_records: number };
  /** Stored files, deleted documents' included until files:cleanup removes them, against UPLOAD_FAMILY_MAX_BYTES. */
  files: { count: number; stored_bytes: number; max_bytes: number };
}

/** `family:show <invite_code|email|family_id>`: one family as support staff need to see it. */
@Injectable()
export class FamilyReportService {
  constructor(
    private readonly auth: AuthService,
    private readonly repository: FamilyReportRepository,
    @Inject(uploadConfig.KEY) private readonly upload: ConfigType<typeof uploadConfig>,
    @Inject(syncConfig.KEY) private readonly sync: ConfigType<typeof syncConfig>,
  ) {}

  async find(query: string): Promise<FamilyReport> {
    const family = await this.findFamily(query);
    const [members, counts, files] = await Promise.all([
      this.repository.members(family.id),
      this.repository.counts(family.id),
      this.repository.files(family.id),
    ]);
    return {
      ...toFamilyReport(family, members, counts),
      records: { stored_records: Number(family.record_count), max_records: this.sync.familyMaxRecords },
      files: { count: files.count, stored_bytes: files.bytes, max_bytes: this.upload.familyMaxBytes },
    };
  }

  /** By the email of a member, the family's id (a family nobody is in has no code) or its invite code. */
  async findFamily(query: string): Promise<FamilyRow> {
    if (query.includes('@')) {
      const user = await this.auth.findByEmail(query);
      if (!user) throw new CliError(`No user with email ${query.trim()}`);
      if (!user.familyId) {
        const founded = await this.repository.foundedBy(user.id);
        throw new CliError(`${printableEmail(user.email)} belongs to no family${founded.length ? ` (families they founded: ${founded.join(', ')})` : ''}`);
      }
      return (await this.repository.findFamily({ familyId: user.familyId }))!;
    }
    if (isUuid(query.trim())) {
      const family = await this.repository.findFamily({ familyId: query.trim().toLowerCase() });
      if (!family) throw new CliError(`No family with id ${query.trim()}`);
      return family;
    }
    const family = await this.repository.findFamily({ inviteCode: normalizeInviteCode(query) });
    if (!family) throw new CliError(`No family with invite code ${normalizeInviteCode(query)}`);
    return family;
  }
}

export function toFamilyReport(family: FamilyRow, members: MemberRow[], counts: TableCount[]): Omit<FamilyReport, 'records' | 'files'> {
  return {
    family: {
      id: family.id,
      invite_code: family.invite_code,
      patient_name: family.patient_name,
      patient_birth_date: isoTime(family.patient_birth_date),
      patient_weight_kg: family.patient_weight_kg === null ? null : Number(family.patient_weight_kg),
      patient_blood_group: family.patient_blood_group,
      patient_diagnosis: family.patient_diagnosis,
      sync_version: Number(family.sync_version),
      created_at: isoTime(family.created_at)!,
      demo_seeded_at: isoTime(family.demo_seeded_at),
    },
    members: members.map((m) => ({ id: m.id, email: m.email, name: m.name, role: m.role, created_at: isoTime(m.created_at)! })),
    counts,
  };
}

/** A BIGINT of milliseconds (a string from the driver) or a timestamptz (a Date) as ISO 8601. */
function isoTime(value: string | number | Date | null): string | null {
  if (value === null) return null;
  return (value instanceof Date ? value : new Date(Number(value))).toISOString();
}
