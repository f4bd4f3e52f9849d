import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { FamilyContext } from '../../common/family-scope/family-context.js';
import { FamilyScopedRepository } from '../../common/family-scope/family-scoped.repository.js';
import { FileEntity } from './entities/file.entity.js';

/** The current family's files; another family's file simply does not exist here. */
@Injectable()
export class FilesRepository extends FamilyScopedRepository<FileEntity> {
  constructor(@InjectRepository(FileEntity) repository: Repository<FileEntity>, familyContext: FamilyContext) {
    super(repository, familyContext, 'familyId');
  }
}
