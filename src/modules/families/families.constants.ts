/**
 * Patient field rules of the `families` sync table (sync-schema.ts). PATCH /families/me validates
 * with that registry too (@SyncColumn), so these values are the one definition of both.
 */
export const BLOOD_GROUPS = ['O+', 'O-', 'A+', 'A-', 'B+', 'B-', 'AB+', 'AB-'] as const;
export const PATIENT_LIMITS = {
  nameMax: 200,
  diagnosisMax: 500,
  notesMax: 20_000,
  /** 1900-01-01 */
  birthDateMin: -2_208_988_800_000,
} as const;
