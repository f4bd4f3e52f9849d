import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UserEntity } from '../auth/entities/user.entity.js';
import { FamilyEntity } from './entities/family.entity.js';
import { FamiliesController } from './families.controller.js';
import { FamiliesRepository, FamilyMembersRepository } from './families.repository.js';
import { FamiliesService } from './families.service.js';
import { FamilyMembershipService } from './family-membership.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([FamilyEntity, UserEntity])],
  controllers: [FamiliesController],
  providers: [FamiliesService, FamilyMembershipService, FamiliesRepository, FamilyMembersRepository],
  exports: [FamiliesService, FamilyMembershipService],
})
export class FamiliesModule {}
