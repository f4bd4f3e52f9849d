import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { FamilyContext } from '../../common/family-scope/family-context.js';
import { FamilyScopedRepository } from '../../common/family-scope/family-scoped.repository.js';
import { DocumentsErrors } from './documents.errors.js';
import { FileEntity } from './entities/file.entity.js';

/** The current family's files; another family's file simply does not exist here. */
@Injectable()
export class FilesRepository extends FamilyScopedRepository<FileEntity> {
  constructor(@InjectRepository(FileEntity) repository: Repository<FileEntity>, familyContext: FamilyContext) {
    super(repository, familyContext, 'familyId');
  }

  /** Bytes of the current family's stored files: every row, until files:cleanup removes it. */
  async bytesStored(): Promise<number> {
    const { sum } = (await this.createQueryBuilder('f').select('coalesce(sum(f.size_bytes), 0)::text', 'sum').getRawOne<{ sum: string }>())!;
    return Number(sum);
  }

  /**
   * `insert`, refused (413 STORAGE_QUOTA_EXCEEDED) if the family's stored files would then hold more
   * than `maxBytes`. Run in the caller's transaction (`withManager`), as its last lock: two uploads of
   * one family take turns on an advisory lock for the family's files, taken only here, so the second
   * sums what the first committed and a quota is never overrun by a race. Nothing else waits on it.
   */
  async insertWithinQuota(file: Partial<FileEntity>, maxBytes: number): Promise<FileEntity> {
    await this.repository.query(`SELECT pg_advisory_xact_lock(hashtextextended('hemoday-family-files:' || $1::text, 0))`, [this.familyId]);
    const stored = await this.bytesStored();
    if (stored + (file.sizeBytes ?? 0) > maxBytes) throw DocumentsErrors.storageQuotaExceeded(maxBytes, stored);
    return this.insert(file);
  }
}
