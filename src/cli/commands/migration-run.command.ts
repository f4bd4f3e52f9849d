import { Command, CommandRunner } from 'nest-commander';
import { runPendingMigrations } from '../../database/migration-runner.js';
import { CliDatabaseService } from '../cli-database.service.js';
import { assertNoArguments } from '../cli-error.js';

@Command({ name: 'migration:run', description: 'Apply pending database migrations (as `npm run migration:run`)' })
export class MigrationRunCommand extends CommandRunner {
  constructor(private readonly database: CliDatabaseService) {
    super();
  }

  async run(args: string[]): Promise<void> {
    assertNoArguments('migration:run', args);
    console.log(await runPendingMigrations(await this.database.connect({ migrate: false })));
  }
}
