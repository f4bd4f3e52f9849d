import { Command, CommandRunner, Option } from 'nest-commander';
import { AuthService } from '../../modules/auth/auth.service.js';
import { PASSWORD_ARGUMENT_WARNING, PASSWORD_STDIN_DESCRIPTION, readPassword, toRegisterDto, type PasswordOptions } from '../account-input.js';
import { CliDatabaseService } from '../cli-database.service.js';
import { assertNoArguments } from '../cli-error.js';

@Command({
  name: 'user:reset-password',
  description: "Set a user's password and sign them out of every device at once (refresh and access tokens, event streams)",
})
export class UserResetPasswordCommand extends CommandRunner {
  constructor(
    private readonly database: CliDatabaseService,
    private readonly auth: AuthService,
  ) {
    super();
  }

  async run(args: string[], options: PasswordOptions & { email: string }): Promise<void> {
    assertNoArguments('user:reset-password', args);
    // The registration rules for email and password.
    const dto = toRegisterDto({ email: options.email, password: await readPassword(options, { required: true }) });
    await this.database.connect();
    const user = await this.auth.resetPassword(dto.email, dto.password);
    console.log(
      `Password changed for ${user.email}; signed out everywhere at once (refresh tokens revoked, earlier access tokens refused, open event streams closed): the user signs in again on each device.`,
    );
  }

  @Option({ flags: '--email <email>', description: 'the user', required: true })
  parseEmail(value: string): string {
    return value;
  }

  @Option({ flags: '--password <password>', description: `the new password (at least 8 characters; or --password-stdin); ${PASSWORD_ARGUMENT_WARNING}` })
  parsePassword(value: string): string {
    return value;
  }

  @Option({ flags: '--password-stdin', description: PASSWORD_STDIN_DESCRIPTION })
  parsePasswordStdin(): boolean {
    return true;
  }
}
