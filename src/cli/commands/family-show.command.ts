import { Command, CommandRunner, Option } from 'nest-commander';
import { CliDatabaseService } from '../cli-database.service.js';
import { CliError } from '../cli-error.js';
import { printable, printableEmail } from '../printable.js';
import { FamilyReportService, type FamilyReport } from '../support/family-report.service.js';

@Command({
  name: 'family:show',
  arguments: '<invite_code|email|family_id>',
  argsDescription: { 'invite_code|email|family_id': "the family's invite code, the email of one of its members, or the family's id" },
  description: 'Show a family: patient, members, record counts per table, sync_version, stored files against UPLOAD_FAMILY_MAX_BYTES',
})
export class FamilyShowCommand extends CommandRunner {
  constructor(
    private readonly database: CliDatabaseService,
    private readonly reports: FamilyReportService,
  ) {
    super();
  }

  async run(args: string[], options: { json?: boolean }): Promise<void> {
    if (args.length !== 1) throw new CliError('family:show takes exactly one argument: an invite code, an email or a family id');
    await this.database.connect();
    const report = await this.reports.find(args[0]);
    console.log(options.json ? JSON.stringify(report, null, 2) : format(report));
  }

  @Option({ flags: '--json', description: 'print the report as JSON' })
  parseJson(): boolean {
    return true;
  }
}

/** The report for a person: what the family's members wrote is printed with its control characters escaped (printable). */
function format({ family, members, counts, records, files }: FamilyReport): string {
  const patient = [
    family.patient_name === null ? '(no name)' : printable(family.patient_name),
    family.patient_birth_date !== null && `born ${family.patient_birth_date.slice(0, 10)}`,
    family.patient_weight_kg !== null && `${family.patient_weight_kg} kg`,
    family.patient_blood_group,
    family.patient_diagnosis !== null && printable(family.patient_diagnosis),
  ].filter(Boolean);
  const width = Math.max(...counts.map((c) => c.table.length));
  return [
    `Family ${family.id}`,
    `  invite code:  ${family.invite_code ?? '(none: the family has no members)'}`,
    `  sync_version: ${family.sync_version} (${new Date(family.sync_version).toISOString()})`,
    `  created:      ${family.created_at}${family.demo_seeded_at ? ' (demo family made by seed)' : ''}`,
    `  patient:      ${patient.join(', ')}`,
    `  members (${members.length}):`,
    ...members.map((m) => `    ${m.role.padEnd(6)} ${printableEmail(m.email)}${m.name ? ` (${printable(m.name)})` : ''}  user ${m.id}`),
    `  records (live / deleted):`,
    ...counts.map((c) => `    ${c.table.padEnd(width)}  ${String(c.live).padStart(6)} / ${c.deleted}`),
    `    in all: ${records.stored_records} of the ${records.max_records} limit (SYNC_FAMILY_MAX_RECORDS)`,
    `  files:        ${files.count}, ${mebibytes(files.stored_bytes)} of the ${mebibytes(files.max_bytes)} limit (UPLOAD_FAMILY_MAX_BYTES)`,
  ].join('\n');
}

/** Bytes as MiB with one decimal (`0.0 MiB` for a few KiB: support reads it against a limit of GiBs). */
function mebibytes(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
