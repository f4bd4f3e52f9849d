import { IsIn, IsInt, IsNumber, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { BLOOD_GROUPS, PATIENT_LIMITS } from '../families.constants.js';

/** Patient fields of the family; omit a field to keep it, send null to clear it. */
export class UpdateFamilyDto {
  /** @example Amira */
  @IsOptional() @IsString() @MaxLength(PATIENT_LIMITS.nameMax)
  patient_name?: string | null;

  /** Birth date, ms since epoch. @example 1420070400000 */
  @IsOptional() @IsInt() @Min(PATIENT_LIMITS.birthDateMin) @Max(PATIENT_LIMITS.birthDateMax)
  patient_birth_date?: number | null;

  /** @example 24.5 */
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0.01) @Max(499.99)
  patient_weight_kg?: number | null;

  /** @example A+ */
  @IsOptional() @IsIn(BLOOD_GROUPS)
  patient_blood_group?: string | null;

  /** @example beta-thalassemia major */
  @IsOptional() @IsString() @MaxLength(PATIENT_LIMITS.diagnosisMax)
  patient_diagnosis?: string | null;

  /** Free-text notes about the patient, shared by the family. @example Allergic to penicillin */
  @IsOptional() @IsString() @MaxLength(PATIENT_LIMITS.notesMax)
  notes?: string | null;
}
