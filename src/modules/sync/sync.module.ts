import { Module } from '@nestjs/common';
import { asyncScheduler } from 'rxjs';
import { DocumentsModule } from '../documents/documents.module.js';
import { SyncController } from './sync.controller.js';
import { SyncPullService } from './sync-pull.service.js';
import { SyncPushService } from './sync-push.service.js';
import { HEARTBEAT_SCHEDULER, SyncEventsService } from './sync-events.service.js';
import { SyncRepository } from './sync.repository.js';
import { SyncInstallationsRepository } from './sync-installations.repository.js';
import { FullPullLimiter } from './full-pull-limiter.js';
import { NewInstallationLimiter } from './new-installation-limiter.js';
import { AuthRateLimitRepository } from '../auth/rate-limit.repository.js';

/**
 * WatermelonDB pull/push. Imports DocumentsModule for DocumentFileUrlValidator, the
 * check of pushed documents.file_url values against the family's files.
 */
@Module({
  imports: [DocumentsModule],
  controllers: [SyncController],
  providers: [
    SyncPullService,
    SyncPushService,
    SyncRepository,
    SyncInstallationsRepository,
    SyncEventsService,
    { provide: HEARTBEAT_SCHEDULER, useValue: asyncScheduler },
    FullPullLimiter,
    // The auth limits' counters (one statement each, no state): new installations count in the same table.
    AuthRateLimitRepository,
    NewInstallationLimiter,
  ],
  // The admin CLI seeds through the same push (validation + versioning), never around it, and
  // forgets idle installations' cursors through the repository (sync:cleanup).
  exports: [SyncPushService, SyncInstallationsRepository],
})
export class SyncModule {}
