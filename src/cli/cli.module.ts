import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { CommonModule } from '../common/common.module.js';
import { allConfigs } from '../config/configuration.js';
import { AuthModule } from '../modules/auth/auth.module.js';
import { DocumentsModule } from '../modules/documents/documents.module.js';
import { FamiliesModule } from '../modules/families/families.module.js';
import { SyncModule } from '../modules/sync/sync.module.js';
import { CliDatabaseModule } from './cli-database.module.js';
import { FamilyInviteCodeCommand } from './commands/family-invite-code.command.js';
import { FamilySetOwnerCommand } from './commands/family-set-owner.command.js';
import { FamilyShowCommand } from './commands/family-show.command.js';
import { FilesCleanupCommand } from './commands/files-cleanup.command.js';
import { MigrationRevertCommand } from './commands/migration-revert.command.js';
import { MigrationRunCommand } from './commands/migration-run.command.js';
import { SeedCommand } from './commands/seed.command.js';
import { SyncCleanupCommand } from './commands/sync-cleanup.command.js';
import { UserCreateCommand } from './commands/user-create.command.js';
import { UserDeleteCommand } from './commands/user-delete.command.js';
import { UserResetPasswordCommand } from './commands/user-reset-password.command.js';
import { SeedResetService } from './seed/seed-reset.service.js';
import { SeedRepository } from './seed/seed.repository.js';
import { SeederService } from './seed/seeder.service.js';
import { FamilyReportRepository } from './support/family-report.repository.js';
import { FamilyReportService } from './support/family-report.service.js';

/**
 * The admin CLI: the app's own modules (auth, families, sync with documents,
 * family scoping and versioning) without HTTP, over a DataSource that
 * connects on first use (CliDatabaseModule instead of DatabaseModule).
 */
@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, cache: true, load: allConfigs, ignoreEnvFile: true }), // `.env`: loadDotEnv (cli.ts), as the app
    CliDatabaseModule,
    CommonModule,
    AuthModule,
    FamiliesModule,
    SyncModule,
    DocumentsModule,
  ],
  providers: [
    SeedRepository,
    SeederService,
    SeedResetService,
    FamilyReportRepository,
    FamilyReportService,
    SeedCommand,
    UserCreateCommand,
    UserResetPasswordCommand,
    UserDeleteCommand,
    FamilyShowCommand,
    FamilyInviteCodeCommand,
    FamilySetOwnerCommand,
    FilesCleanupCommand,
    SyncCleanupCommand,
    MigrationRunCommand,
    MigrationRevertCommand,
  ],
})
export class CliModule {}
