import { Column, CreateDateColumn, Entity, ForeignKey, Index, PrimaryGeneratedColumn } from 'typeorm';
import { UserEntity } from './user.entity.js';

/**
 * One refresh token. Tokens of one sign-in form a chain (`chain_id`): each
 * refresh marks the presented token used and issues the next one in the chain.
 * Presenting a used token again means it leaked: the whole chain is revoked.
 */
@Entity('refresh_tokens')
export class RefreshTokenEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('refresh_tokens_user_id_idx')
  @ForeignKey(() => UserEntity, { name: 'refresh_tokens_user_id_fkey', onDelete: 'CASCADE' })
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Index('refresh_tokens_chain_id_idx')
  @Column({ name: 'chain_id', type: 'uuid' })
  chainId: string;

  /** The token this one was rotated from (null for a sign-in's first token). */
  @Index('refresh_tokens_parent_id_idx')
  @Column({ name: 'parent_id', type: 'uuid', nullable: true })
  parentId: string | null;

  /** sha256 of the secret part; the secret itself is never stored. */
  @Column({ name: 'token_hash', type: 'char', length: 64 })
  tokenHash: string;

  /** Rows are deleted a day after this (TokenService's sweep). */
  @Index('refresh_tokens_expires_at_idx')
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt: Date | null;

  /** When the access token issued with this one was first used (JwtAuthGuard): the pair counts as used from then on. */
  @Column({ name: 'access_used_at', type: 'timestamptz', nullable: true })
  accessUsedAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  /**
   * Set (with revoked_at) when a retry of the parent within the grace replaced this token before it
   * was ever used. Presenting it afterwards means two parties hold the chain: the chain is revoked.
   */
  @Column({ name: 'superseded_at', type: 'timestamptz', nullable: true })
  supersededAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
