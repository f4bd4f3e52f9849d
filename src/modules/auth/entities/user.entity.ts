import { Check, Column, CreateDateColumn, Entity, ForeignKey, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '../../../database/column-transformers.js';
import { FamilyEntity } from '../../families/entities/family.entity.js';

export type FamilyRole = 'owner' | 'member';

/**
 * Constraints are declared under the names the migrations gave them, so that
 * `migration:generate` compares like with like (ARCHITECTURE.md, "Migrations").
 */
@Entity('users')
@Check('users_role_check', `role IN ('owner', 'member')`)
@Check('users_check', '(family_id IS NULL) = (role IS NULL)')
export class UserEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Stored normalized (normalizeEmail: trimmed, NFC, lower-cased); unique, looked up by equality. */
  @Index('users_email_key', { unique: true })
  @Column({ type: 'varchar', length: 320 })
  email: string;

  @Column({ name: 'password_hash', type: 'varchar', length: 200 })
  passwordHash: string;

  @Column({ type: 'varchar', length: 200, nullable: true })
  name: string | null;

  @Index('users_family_id_idx')
  @ForeignKey(() => FamilyEntity, { name: 'users_family_id_fkey', onDelete: 'SET NULL' })
  @Column({ name: 'family_id', type: 'uuid', nullable: true })
  familyId: string | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  role: FamilyRole | null;

  /**
   * Family sync_version at the moment the user joined: older sync cursors get a replacement snapshot.
   * In no family (removed): the removal's version, which their next join is taken above.
   */
  @Column({ name: 'family_joined_version', type: 'bigint', default: 0, transformer: bigintNumber })
  familyJoinedVersion: number;

  /** Access tokens issued at or before this instant are refused (set by a password reset or change). */
  @Column({ name: 'tokens_valid_after', type: 'timestamptz', nullable: true })
  tokensValidAfter: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
