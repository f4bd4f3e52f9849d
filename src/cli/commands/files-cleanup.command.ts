import { Command, CommandRunner, Option } from 'nest-commander';
import { FileCleanupService, type CleanupReport } from '../../modules/documents/file-cleanup.service.js';
import { CliDatabase } from '../cli-database.service.js';
import { CliError } from '../cli-error.js';

interface FilesCleanupOptions {
  dryRun?: boolean;
  json?: boolean;
  graceHours?: number;
  retentionDays?: number;
}

@Command({
  name: 'files:cleanup',
  description:
    'Delete stored files no live document references (after FILE_CLEANUP_GRACE_HOURS) and files of deleted documents (after DOCUMENT_RETENTION_DAYS)',
})
export class FilesCleanupCommand extends CommandRunner {
  constructor(
    private readonly database: CliDatabase,
    private readonly cleanup: FileCleanupService,
  ) {
    super();
  }

  async run(args: string[], options: FilesCleanupOptions): Promise<void> {
    if (args.length) throw new CliError(`files:cleanup takes no arguments (got "${args.join(' ')}")`);
    await this.database.connect();
    const report = await this.cleanup.run({
      dryRun: options.dryRun ?? false,
      graceHours: options.graceHours,
      retentionDays: options.retentionDays,
    });
    console.log(options.json ? JSON.stringify(report, null, 2) : format(report));
    if (report.failures.length) throw new CliError(`${report.failures.length} famil${report.failures.length === 1 ? 'y' : 'ies'} could not be cleaned; retry later`);
  }

  @Option({ flags: '--dry-run', description: 'only report what would be deleted' })
  parseDryRun(): boolean {
    return true;
  }

  @Option({ flags: '--json', description: 'print the report as JSON' })
  parseJson(): boolean {
    return true;
  }

  @Option({ flags: '--grace-hours <hours>', description: 'override FILE_CLEANUP_GRACE_HOURS for this run' })
  parseGraceHours(value: string): number {
    return nonNegativeInt('--grace-hours', value);
  }

  @Option({ flags: '--retention-days <days>', description: 'override DOCUMENT_RETENTION_DAYS for this run' })
  parseRetentionDays(value: string): number {
    return nonNegativeInt('--retention-days', value);
  }
}

function nonNegativeInt(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new CliError(`${flag} must be a whole number (got "${value}")`);
  return Number(value);
}

function format(report: CleanupReport): string {
  const verb = report.dry_run ? 'would delete' : 'deleted';
  const mib = (report.bytes / 1024 / 1024).toFixed(2);
  return [
    `files:cleanup${report.dry_run ? ' (dry run)' : ''}: ${verb} ${report.files.length} file(s), ${mib} MiB`,
    `  unreferenced after ${report.grace_hours} h: ${report.unreferenced}`,
    `  of documents deleted over ${report.retention_days} days ago: ${report.document_deleted}`,
    ...report.files.map((f) => `  ${f.reason.padEnd(16)} family ${f.family_id}  file ${f.id}  ${f.size_bytes} B`),
    ...report.failures.map((f) => `  FAILED family ${f.family_id}: ${f.message}`),
  ].join('\n');
}
