import { Command, CommandRunner, Option } from 'nest-commander';
import { AuthService } from '../../modules/auth/auth.service.js';
import { PASSWORD_ARGUMENT_WARNING, PASSWORD_STDIN_DESCRIPTION, readPassword, toRegisterDto, type PasswordOptions } from '../account-input.js';
import { CliDatabaseService } from '../cli-database.service.js';
import { assertNoArguments } from '../cli-error.js';

interface UserCreateOptions extends PasswordOptions {
  email: string;
  name?: string;
  inviteCode?: string;
}

@Command({
  name: 'user:create',
  description: 'Create a user with a new family (as owner), or in the family of --invite-code (as member)',
})
export class UserCreateCommand extends CommandRunner {
  constructor(
    private readonly database: CliDatabaseService,
    private readonly auth: AuthService,
  ) {
    super();
  }

  async run(args: string[], options: UserCreateOptions): Promise<void> {
    assertNoArguments('user:create', args);
    const dto = toRegisterDto({ ...options, password: await readPassword(options, { required: true }) });
    await this.database.connect();
    // The same path as POST /auth/register; the tokens it issues are simply not used.
    const { user } = await this.auth.register(dto);
    const { family } = await this.auth.me(user.id);
    console.log(`Created ${user.email} (user ${user.id}) as ${user.role} of family ${family!.id}, invite code ${family!.invite_code}.`);
  }

  @Option({ flags: '--email <email>', description: 'email (trimmed; compared case-insensitively)', required: true })
  parseEmail(value: string): string {
    return value;
  }

  @Option({ flags: '--password <password>', description: `password (at least 8 characters; or --password-stdin); ${PASSWORD_ARGUMENT_WARNING}` })
  parsePassword(value: string): string {
    return value;
  }

  @Option({ flags: '--password-stdin', description: PASSWORD_STDIN_DESCRIPTION })
  parsePasswordStdin(): boolean {
    return true;
  }

  @Option({ flags: '--name <name>', description: 'display name' })
  parseName(value: string): string {
    return value;
  }

  @Option({ flags: '--invite-code <code>', description: 'join this family instead of creating one' })
  parseInviteCode(value: string): string {
    return value;
  }
}
