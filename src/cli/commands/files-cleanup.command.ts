import { Command, CommandRunner, Option } from 'nest-commander';
import { isUuid } from '../../common/http/uuid.js';
import { normalizeInviteCode } from '../../modules/families/invite-code.js';
import { FileCleanupService, MAX_GRACE_HOURS, MAX_RETENTION_DAYS } from '../../modules/documents/file-cleanup.service.js';
import { CliDatabaseService } from '../cli-database.service.js';
import { assertNoArguments, CliError } from '../cli-error.js';
import { parseIntegerOption } from '../integer-option.js';
import { cleanupProblem, formatCleanupReport } from '../support/cleanup-summary.js';
import { FamilyReportRepository } from '../support/family-report.repository.js';

interface FilesCleanupOptions {
  dryRun?: boolean;
  json?: boolean;
  graceHours?: number;
  retentionDays?: number;
  family?: string[];
}

@Command({
  name: 'files:cleanup',
  description:
    'Delete stored files no live document references (after FILE_CLEANUP_GRACE_HOURS), files of deleted documents (after DOCUMENT_RETENTION_DAYS), ' +
    'and stored objects that have no database row (after the grace period, at least 1 h)',
})
export class FilesCleanupCommand extends CommandRunner {
  constructor(
    private readonly database: CliDatabaseService,
    private readonly cleanup: FileCleanupService,
    private readonly families: FamilyReportRepository,
  ) {
    super();
  }

  async run(args: string[], options: FilesCleanupOptions): Promise<void> {
    assertNoArguments('files:cleanup', args);
    await this.database.connect();
    const familyIds = options.family ? await this.resolveFamilies(options.family) : undefined;
    const report = await this.cleanup.run({
      dryRun: options.dryRun ?? false,
      familyIds,
      graceHours: options.graceHours,
      retentionDays: options.retentionDays,
    });
    console.log(options.json ? JSON.stringify(report, null, 2) : formatCleanupReport(report));
    const problem = cleanupProblem(report);
    if (problem) throw new CliError(problem);
  }

  @Option({ flags: '--dry-run', description: 'only report what would be deleted' })
  parseDryRun(): boolean {
    return true;
  }

  @Option({ flags: '--json', description: 'print the report as JSON' })
  parseJson(): boolean {
    return true;
  }

  @Option({
    flags: '--family <invite_code|family_id>',
    description: 'only this family (its rows and its storage folder); repeat for several',
  })
  parseFamily(value: string, previous: string[] = []): string[] {
    return [...previous, value];
  }

  @Option({ flags: '--grace-hours <hours>', description: `override FILE_CLEANUP_GRACE_HOURS for this run (0–${MAX_GRACE_HOURS})` })
  parseGraceHours(value: string): number {
    return parseIntegerOption('--grace-hours', value, 0, MAX_GRACE_HOURS);
  }

  @Option({ flags: '--retention-days <days>', description: `override DOCUMENT_RETENTION_DAYS for this run (0–${MAX_RETENTION_DAYS})` })
  parseRetentionDays(value: string): number {
    return parseIntegerOption('--retention-days', value, 0, MAX_RETENTION_DAYS);
  }

  private async resolveFamilies(values: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const value of values) {
      const by = isUuid(value.trim()) ? { familyId: value.trim().toLowerCase() } : { inviteCode: normalizeInviteCode(value) };
      const family = await this.families.findFamily(by);
      if (!family) throw new CliError(`No family with ${'familyId' in by ? `id ${by.familyId}` : `invite code ${by.inviteCode}`}`);
      ids.push(family.id);
    }
    return [...new Set(ids)];
  }
}
