import { Injectable } from '@nestjs/common';
import { AuthService } from '../../modules/auth/auth.service.js';
import { normalizeInviteCode } from '../../modules/families/invite-code.js';
import { CliError } from '../cli-error.js';
import { FamilyReportRepository, type FamilyRow, type MemberRow, type TableCount } from './family-report.repository.js';

export interface FamilyReport {
  family: FamilyRow;
  members: MemberRow[];
  counts: TableCount[];
}

/** `family:show <invite_code|email>`: one family as support staff need to see it. */
@Injectable()
export class FamilyReportService {
  constructor(
    private readonly auth: AuthService,
    private readonly repository: FamilyReportRepository,
  ) {}

  async find(query: string): Promise<FamilyReport> {
    let family: FamilyRow | undefined;
    if (query.includes('@')) {
      const user = await this.auth.findByEmail(query);
      if (!user) throw new CliError(`No user with email ${query.trim()}`);
      if (!user.familyId) throw new CliError(`${user.email} belongs to no family`);
      family = await this.repository.findFamily({ familyId: user.familyId });
    } else {
      family = await this.repository.findFamily({ inviteCode: normalizeInviteCode(query) });
      if (!family) throw new CliError(`No family with invite code ${normalizeInviteCode(query)}`);
    }
    const [members, counts] = await Promise.all([this.repository.members(family!.id), this.repository.counts(family!.id)]);
    return { family: family!, members, counts };
  }
}
