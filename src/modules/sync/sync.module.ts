import { Module } from '@nestjs/common';
import { DocumentsModule } from '../documents/documents.module.js';
import { SyncController } from './sync.controller.js';
import { SyncPullService } from './sync-pull.service.js';
import { SyncPushService } from './sync-push.service.js';
import { SyncRepository } from './sync.repository.js';

/** WatermelonDB pull/push. Documents plug their file check in under DOCUMENT_FILE_VALIDATOR (see document-file-validator.ts). */
@Module({
  imports: [DocumentsModule],
  controllers: [SyncController],
  providers: [SyncPullService, SyncPushService, SyncRepository],
  // The admin CLI writes seeded history through the same push.
  exports: [SyncPushService],
})
export class SyncModule {}
