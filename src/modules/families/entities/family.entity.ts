import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from '../../../database/column-transformers.js';

/**
 * Constraints are declared under the names the migrations gave them, so that
 * `migration:generate` compares like with like (ARCHITECTURE.md, "Migrations").
 */
@Entity('families')
@Check('families_patient_weight_kg_check', 'patient_weight_kg > 0 AND patient_weight_kg < 500')
export class FamilyEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** NULL for a family nobody is in any more (settleAfterLeave): nothing can open it. Unique among the others. */
  @Index('families_invite_code_key', { unique: true })
  @Column({ name: 'invite_code', type: 'varchar', length: 6, nullable: true })
  inviteCode: string | null;

  @Column({ name: 'patient_name', type: 'varchar', length: 200, nullable: true })
  patientName: string | null;

  @Column({ name: 'patient_birth_date', type: 'bigint', nullable: true, transformer: bigintNumber })
  patientBirthDate: number | null;

  @Column({ name: 'patient_weight_kg', type: 'double precision', nullable: true })
  patientWeightKg: number | null;

  @Column({ name: 'patient_blood_group', type: 'varchar', length: 16, nullable: true })
  patientBloodGroup: string | null;

  @Column({ name: 'patient_diagnosis', type: 'varchar', length: 500, nullable: true })
  patientDiagnosis: string | null;

  @Column({ type: 'text', nullable: true })
  notes: string | null;

  /** The family's change counter; see "Versions, not wall clocks" in ARCHITECTURE.md. */
  @Column({ name: 'sync_version', type: 'bigint', default: 0, transformer: bigintNumber })
  syncVersion: number;

  /**
   * Server-only: the family's rows in the six data tables, tombstones included, kept by every write
   * that inserts some (FamilyVersionService) and limited by SYNC_FAMILY_MAX_RECORDS.
   */
  @Column({ name: 'record_count', type: 'bigint', default: 0, transformer: bigintNumber })
  recordCount: number;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintNumber })
  createdAt: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: bigintNumber })
  updatedAt: number;

  @Column({ name: 'server_version', type: 'bigint', default: 0, transformer: bigintNumber })
  serverVersion: number;

  @Column({ name: 'server_created_version', type: 'bigint', default: 0, transformer: bigintNumber })
  serverCreatedVersion: number;

  /**
   * Server-only, never on the wire, and NULL: a family is never tombstoned (sync refuses to delete
   * its row, no REST route deletes it). Present so every synced table has the same server columns.
   * A plain column, not @DeleteDateColumn, so no query silently filters on it.
   */
  @Column({ name: 'deleted_at', type: 'bigint', nullable: true, transformer: bigintNumber })
  deletedAt: number | null;

  /**
   * Server-only, never on the wire: when the admin CLI's `seed` created this demo family (NULL for
   * every real family). Seed writes demo data only into, and `seed --reset` deletes only, such families.
   */
  @Column({ name: 'demo_seeded_at', type: 'timestamptz', nullable: true })
  demoSeededAt: Date | null;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @Column({ name: 'updated_by', type: 'uuid', nullable: true })
  updatedBy: string | null;

  @Column({ name: 'created_by_device', type: 'varchar', length: 200, nullable: true })
  createdByDevice: string | null;
}
