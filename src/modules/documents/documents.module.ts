import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DocumentFileUrlValidator } from './document-file-url.validator.js';
import { DocumentRecordsRepository } from './document-records.repository.js';
import { DocumentsController } from './documents.controller.js';
import { FileEntity } from './entities/file.entity.js';
import { FileCleanupService } from './file-cleanup.service.js';
import { FilesRepository } from './files.repository.js';
import { FilesService } from './files.service.js';
import { fileStorageProvider } from './storage/file-storage.provider.js';
import { FILE_STORAGE } from './storage/file-storage.js';
import { UploadService } from './upload.service.js';

/** Uploads, storage drivers, authorized downloads, file cleanup and the sync check of documents.file_url. */
@Module({
  imports: [TypeOrmModule.forFeature([FileEntity])],
  controllers: [DocumentsController],
  providers: [
    fileStorageProvider,
    FilesRepository,
    DocumentRecordsRepository,
    UploadService,
    FilesService,
    FileCleanupService,
    // The sync push asks this for every pushed documents.file_url (SyncModule imports this module).
    DocumentFileUrlValidator,
  ],
  exports: [FILE_STORAGE, FileCleanupService, DocumentFileUrlValidator],
})
export class DocumentsModule {}
