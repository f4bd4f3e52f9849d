import { Command, CommandRunner } from 'nest-commander';
import { FamilyMembershipService } from '../../modules/families/family-membership.service.js';
import { CliDatabaseService } from '../cli-database.service.js';
import { CliError } from '../cli-error.js';
import { FamilyReportService } from '../support/family-report.service.js';

@Command({
  name: 'family:invite-code',
  arguments: '<family_id|invite_code|email>',
  argsDescription: { 'family_id|invite_code|email': "the family's id, its invite code, or the email of one of its members" },
  description: 'Give a family a new invite code (the old one stops working); a family nobody is in is reopened: whoever joins becomes its owner',
})
export class FamilyInviteCodeCommand extends CommandRunner {
  constructor(
    private readonly database: CliDatabaseService,
    private readonly reports: FamilyReportService,
    private readonly memberships: FamilyMembershipService,
  ) {
    super();
  }

  async run(args: string[]): Promise<void> {
    if (args.length !== 1) throw new CliError('family:invite-code takes exactly one argument: a family id, an invite code or an email');
    await this.database.connect();
    const family = await this.reports.findFamily(args[0]);
    // Whether it had a code (members) as the write found it under the family's lock, not as read above.
    const { inviteCode, replaced } = await this.memberships.issueInviteCode(family.id);
    console.log(
      `New invite code for family ${family.id}: ${inviteCode}` +
        (replaced !== null ? ` (${replaced} no longer works).` : ' (it had none: nobody is in it; whoever joins with this code becomes its owner).'),
    );
  }
}
