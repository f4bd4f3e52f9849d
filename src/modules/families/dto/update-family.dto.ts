import { SyncColumn } from '../../sync/sync-column.validator.js';

/**
 * Patient fields of the family. PATCH /families/me: omit a field to keep it, send null to clear it;
 * POST /families (a new family): an omitted field, like null, is left unset. Each field takes
 * exactly what a sync push of the `families` row takes (the sync table registry's rule), so every
 * device can push the row afterwards.
 */
export class UpdateFamilyDto {
  /** @example Amira */
  @SyncColumn('families', 'patient_name')
  patient_name?: string | null;

  /** Birth date, ms since epoch. @example 1420070400000 */
  @SyncColumn('families', 'patient_birth_date')
  patient_birth_date?: number | null;

  /** @example 24.5 */
  @SyncColumn('families', 'patient_weight_kg')
  patient_weight_kg?: number | null;

  /** One of the blood groups; null or '' clears it (stored, and answered, as null). @example A+ */
  @SyncColumn('families', 'patient_blood_group')
  patient_blood_group?: string | null;

  /** @example beta-thalassemia major */
  @SyncColumn('families', 'patient_diagnosis')
  patient_diagnosis?: string | null;

  /** Free-text notes about the patient, shared by the family. @example Allergic to penicillin */
  @SyncColumn('families', 'notes')
  notes?: string | null;
}

export type PatientProperty = 'patientName' | 'patientBirthDate' | 'patientWeightKg' | 'patientBloodGroup' | 'patientDiagnosis' | 'notes';

/** The patient fields of a PATCH or POST /families body, by entity property (undefined: not sent). */
export function patientFields(dto: UpdateFamilyDto): Record<PatientProperty, unknown> {
  return {
    patientName: dto.patient_name,
    patientBirthDate: dto.patient_birth_date,
    patientWeightKg: dto.patient_weight_kg,
    patientBloodGroup: dto.patient_blood_group,
    patientDiagnosis: dto.patient_diagnosis,
    notes: dto.notes,
  };
}
