import { Command, CommandRunner } from 'nest-commander';
import { revertLastMigration } from '../../database/migration-runner.js';
import { CliDatabaseService } from '../cli-database.service.js';
import { assertNoArguments } from '../cli-error.js';

@Command({ name: 'migration:revert', description: 'Revert the last applied migration (as `npm run migration:revert`)' })
export class MigrationRevertCommand extends CommandRunner {
  constructor(private readonly database: CliDatabaseService) {
    super();
  }

  async run(args: string[]): Promise<void> {
    assertNoArguments('migration:revert', args);
    console.log(await revertLastMigration(await this.database.connect({ migrate: false })));
  }
}
