import { Global, Module } from '@nestjs/common';
import { FamilyContext } from './family-scope/family-context.js';
import { FamilyGuard } from './family-scope/family.guard.js';
import { FamilyScopeInterceptor } from './family-scope/family-scope.interceptor.js';
import { FamilyVersionService } from './versioning/family-version.service.js';

/** Family scoping and versioning: one mechanism, shared by every module. */
@Global()
@Module({
  providers: [FamilyContext, FamilyGuard, FamilyScopeInterceptor, FamilyVersionService],
  exports: [FamilyContext, FamilyGuard, FamilyScopeInterceptor, FamilyVersionService],
})
export class CommonModule {}
