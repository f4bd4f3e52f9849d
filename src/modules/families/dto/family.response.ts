import { ApiProperty } from '@nestjs/swagger';
import type { UserEntity } from '../../auth/entities/user.entity.js';
import type { FamilyEntity } from '../entities/family.entity.js';

export class FamilyMemberResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;
  email: string;
  name: string | null;
  /** @example owner */
  role: 'owner' | 'member';

  static from(user: UserEntity): FamilyMemberResponse {
    return { id: user.id, email: user.email, name: user.name, role: user.role ?? 'member' };
  }
}

export class FamilySummaryResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;
  /**
   * Share it so another caregiver can join (6 characters, case-insensitive). null only for a family
   * nobody is in any more (a read racing the last member's departure). @example K7MX2Q
   */
  invite_code: string | null;
  /** The patient's name; null until set. @example Amira */
  patient_name: string | null;
  /** The patient's birth date, ms since epoch; null until set. @example 1420070400000 */
  @ApiProperty({ type: 'integer', format: 'int64', nullable: true })
  patient_birth_date: number | null;
  /** The patient's weight in kg; null until set. @example 24.5 */
  patient_weight_kg: number | null;
  /** ABO group and RhD (O+, O-, A+, A-, B+, B-, AB+, AB-); null until set. @example A+ */
  patient_blood_group: string | null;
  /** The diagnosis behind the transfusions, free text; null until set. @example beta-thalassemia major */
  patient_diagnosis: string | null;
  /** Free-text notes about the patient, shared by the family; null until set. @example Allergic to penicillin */
  notes: string | null;
  /** ms since epoch */
  @ApiProperty({ type: 'integer', format: 'int64' })
  created_at: number;
  /** ms since epoch */
  @ApiProperty({ type: 'integer', format: 'int64' })
  updated_at: number;

  static from(family: FamilyEntity): FamilySummaryResponse {
    return {
      id: family.id,
      invite_code: family.inviteCode,
      patient_name: family.patientName,
      patient_birth_date: family.patientBirthDate,
      patient_weight_kg: family.patientWeightKg,
      patient_blood_group: family.patientBloodGroup,
      patient_diagnosis: family.patientDiagnosis,
      notes: family.notes,
      created_at: family.createdAt,
      updated_at: family.updatedAt,
    };
  }
}

export class FamilyResponse extends FamilySummaryResponse {
  members: FamilyMemberResponse[];

  static withMembers(family: FamilyEntity, members: UserEntity[]): FamilyResponse {
    return { ...FamilySummaryResponse.from(family), members: members.map((m) => FamilyMemberResponse.from(m)) };
  }
}

export class InviteCodeResponse {
  /** @example K7MX2Q */
  invite_code: string;
}
