import { Command, CommandRunner, Option } from 'nest-commander';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { AuthService } from '../../modules/auth/auth.service.js';
import { CliDatabaseService } from '../cli-database.service.js';
import { assertNoArguments, CliError } from '../cli-error.js';
import { printableEmail } from '../printable.js';

@Command({
  name: 'user:delete',
  description: "Delete a user's account (as DELETE /api/v1/auth/me does): their sign-ins end; their family keeps the records they entered",
})
export class UserDeleteCommand extends CommandRunner {
  constructor(
    private readonly database: CliDatabaseService,
    private readonly auth: AuthService,
  ) {
    super();
  }

  async run(args: string[], options: { email: string }): Promise<void> {
    assertNoArguments('user:delete', args);
    await this.database.connect();
    const user = await this.auth.deleteUser(options.email).catch((error: unknown) => {
      // The service's message names the app's route (POST /families/me/owner); support has a command for it.
      if (error instanceof DomainError && error.code === ErrorCode.OWNER_HAS_MEMBERS) {
        throw new CliError(
          `${printableEmail(options.email)} owns a family with other members and cannot leave it: make another member the owner first (family:set-owner --email <member>), then delete`,
        );
      }
      throw error;
    });
    // An email stored before emails refused control characters may hold them (README, Auth): shown escaped.
    const family = user.familyId ? `; family ${user.familyId} keeps the records they entered` : '';
    console.log(`Deleted ${printableEmail(user.email)} (user ${user.id}): every sign-in has ended${family}.`);
  }

  @Option({ flags: '--email <email>', description: 'the user', required: true })
  parseEmail(value: string): string {
    return value;
  }
}
