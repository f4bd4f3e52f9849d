import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { FamilyContext } from '../../common/family-scope/family-context.js';
import { FamilyScopedRepository } from '../../common/family-scope/family-scoped.repository.js';
import { UserEntity } from '../auth/entities/user.entity.js';
import { FamilyEntity } from './entities/family.entity.js';

/** The caller's own family row (scoped by id). */
@Injectable()
export class FamiliesRepository extends FamilyScopedRepository<FamilyEntity> {
  constructor(@InjectRepository(FamilyEntity) repository: Repository<FamilyEntity>, familyContext: FamilyContext) {
    super(repository, familyContext, 'id');
  }

  async current(): Promise<FamilyEntity | null> {
    return this.findOne({});
  }
}

/** Members of the caller's family (users scoped by family_id). */
@Injectable()
export class FamilyMembersRepository extends FamilyScopedRepository<UserEntity> {
  constructor(@InjectRepository(UserEntity) repository: Repository<UserEntity>, familyContext: FamilyContext) {
    super(repository, familyContext, 'familyId');
  }

  list(): Promise<UserEntity[]> {
    return this.find({}, { createdAt: 'ASC' });
  }

  /**
   * Detaches a member from the current family by the write of `version`; returns false when no such
   * member. `version` becomes their `family_joined_version`: for a user in no family, the version
   * they left at, above every cursor their phones got from the family (FamilyMembershipService.moveMember
   * takes their next join above it).
   */
  async detach(userId: string, manager: EntityManager, version: number): Promise<boolean> {
    // The one write that moves a row out of the scope, so it is spelled out here
    // rather than allowed through the generic update (which refuses to touch family_id).
    const result = await manager
      .createQueryBuilder()
      .update(UserEntity)
      .set({ familyId: null, role: null, familyJoinedVersion: version })
      .where('id = :userId AND family_id = :familyId', { userId, familyId: this.familyId })
      .execute();
    return (result.affected ?? 0) > 0;
  }
}
