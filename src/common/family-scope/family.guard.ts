import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { FamilyRole } from '../../modules/auth/entities/user.entity.js';
import { DomainError, ErrorCode } from '../errors/domain-error.js';
import type { ScopedRequest } from './family-scope.request.js';

interface MembershipRow {
  family_id: string | null;
  role: FamilyRole | null;
  family_joined_version: string;
}

/**
 * Resolves the caller's family from the database on every request (never from
 * token claims), so a member removed a second ago is refused now, not when
 * their access token expires. Runs after JwtAuthGuard.
 */
@Injectable()
export class FamilyGuard implements CanActivate {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<ScopedRequest>();
    const userId = request.user?.userId;
    if (!userId) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'Authentication required');
    const rows: MembershipRow[] = await this.dataSource.query(
      'SELECT family_id, role, family_joined_version FROM users WHERE id = $1',
      [userId],
    );
    const row = rows[0];
    if (!row) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'Authentication required');
    if (!row.family_id || !row.role) {
      throw new DomainError(ErrorCode.NO_FAMILY, 'You are not a member of a family; join one with an invite code');
    }
    request.familyScope = {
      userId,
      familyId: row.family_id,
      role: row.role,
      joinedVersion: Number(row.family_joined_version),
    };
    return true;
  }
}
