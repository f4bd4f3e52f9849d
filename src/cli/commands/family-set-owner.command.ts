import { Command, CommandRunner, Option } from 'nest-commander';
import { FamilyContext } from '../../common/family-scope/family-context.js';
import { AuthService } from '../../modules/auth/auth.service.js';
import { FamiliesService } from '../../modules/families/families.service.js';
import { CliDatabaseService } from '../cli-database.service.js';
import { assertNoArguments, CliError } from '../cli-error.js';
import { printableEmail } from '../printable.js';

@Command({
  name: 'family:set-owner',
  description: 'Make a member the owner of their family, as the owner would (POST /api/v1/families/me/owner): for a family whose owner is gone',
})
export class FamilySetOwnerCommand extends CommandRunner {
  constructor(
    private readonly database: CliDatabaseService,
    private readonly auth: AuthService,
    private readonly families: FamiliesService,
    private readonly familyContext: FamilyContext,
  ) {
    super();
  }

  async run(args: string[], options: { email: string }): Promise<void> {
    assertNoArguments('family:set-owner', args);
    await this.database.connect();
    const member = await this.auth.findByEmail(options.email);
    if (!member) throw new CliError(`No user with email ${options.email.trim()}`);
    if (!member.familyId) throw new CliError(`${printableEmail(member.email)} belongs to no family`);
    if (member.role === 'owner') {
      console.log(`${printableEmail(member.email)} is the owner of family ${member.familyId} already.`);
      return;
    }
    const familyId = member.familyId;
    const owner = await this.families.ownerScope(familyId);
    if (!owner) throw new CliError(`family ${familyId} has no owner to hand it on`);
    // The owner's own rule, in their name (the same write, under the family lock, re-checking their role).
    await this.familyContext.run(owner, () => this.families.transferOwnership(member.id));
    console.log(`${printableEmail(member.email)} is now the owner of family ${familyId}; the former owner (user ${owner.userId}) is a member.`);
  }

  @Option({ flags: '--email <email>', description: 'the member who becomes the owner', required: true })
  parseEmail(value: string): string {
    return value;
  }
}
