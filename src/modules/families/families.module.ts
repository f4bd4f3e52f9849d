import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { UserEntity } from '../auth/entities/user.entity.js';
import { FamilyEntity } from './entities/family.entity.js';
import { FamiliesController } from './families.controller.js';
import { FamiliesRepository, FamilyMembersRepository } from './families.repository.js';
import { FamiliesService } from './families.service.js';
import { FamilyCreationController } from './family-creation.controller.js';

@Module({
  imports: [TypeOrmModule.forFeature([FamilyEntity, UserEntity])],
  controllers: [FamiliesController, FamilyCreationController],
  providers: [FamiliesService, FamiliesRepository, FamilyMembersRepository],
  exports: [FamiliesService],
})
export class FamiliesModule {}
