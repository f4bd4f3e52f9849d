import { Command, CommandRunner, Option } from 'nest-commander';
import { SyncInstallationsRepository } from '../../modules/sync/sync-installations.repository.js';
import { CliDatabaseService } from '../cli-database.service.js';
import { assertNoArguments } from '../cli-error.js';
import { parseIntegerOption } from '../integer-option.js';

interface SyncCleanupOptions {
  dryRun?: boolean;
  json?: boolean;
  idleDays?: number;
}

/** Default of --idle-days: past a month, an answer lost on the way has long been followed by one the phone applied. */
const DEFAULT_IDLE_DAYS = 30;
const MAX_IDLE_DAYS = 36500;

@Command({
  name: 'sync:cleanup',
  description:
    'Trim the sync cursors kept for installations (X-Device-Id) that no pull answer has moved for --idle-days ' +
    'down to their newest one (50 are kept per installation in use)',
})
export class SyncCleanupCommand extends CommandRunner {
  constructor(
    private readonly database: CliDatabaseService,
    private readonly installations: SyncInstallationsRepository,
  ) {
    super();
  }

  async run(args: string[], options: SyncCleanupOptions): Promise<void> {
    assertNoArguments('sync:cleanup', args);
    const dataSource = await this.database.connect();
    const idleDays = options.idleDays ?? DEFAULT_IDLE_DAYS;
    const dryRun = options.dryRun ?? false;
    const trimmed = await this.installations.trimIdleInstallations(dataSource.manager, idleDays, dryRun);
    if (options.json) console.log(JSON.stringify({ dry_run: dryRun, idle_days: idleDays, ...trimmed }, null, 2));
    else {
      const verb = dryRun ? 'Would trim' : 'Trimmed';
      console.log(`${verb} ${trimmed.cursors} old cursor(s) of ${trimmed.installations} installation(s) idle for over ${idleDays} day(s), keeping each one's newest per family`);
    }
  }

  @Option({ flags: '--dry-run', description: 'only count what would be trimmed' })
  parseDryRun(): boolean {
    return true;
  }

  @Option({ flags: '--json', description: 'print the counts as JSON' })
  parseJson(): boolean {
    return true;
  }

  @Option({ flags: '--idle-days <days>', description: `how long no answer has moved an installation's cursor (1–${MAX_IDLE_DAYS}, default ${DEFAULT_IDLE_DAYS})` })
  parseIdleDays(value: string): number {
    return parseIntegerOption('--idle-days', value, 1, MAX_IDLE_DAYS);
  }
}
