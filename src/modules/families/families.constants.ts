/** Patient field rules shared by the REST endpoints and sync validation. */
export const BLOOD_GROUPS = ['O+', 'O-', 'A+', 'A-', 'B+', 'B-', 'AB+', 'AB-'] as const;
export const PATIENT_LIMITS = {
  nameMax: 200,
  diagnosisMax: 500,
  notesMax: 20_000,
  /** 1900-01-01 */
  birthDateMin: -2_208_988_800_000,
  /** The largest JS Date (also sync's upper bound for timestamps); beyond bigint PostgreSQL fails the write. */
  birthDateMax: 8_640_000_000_000_000,
  weightMinExclusive: 0,
  weightMaxExclusive: 500,
} as const;
/** The families columns a member may write (REST PATCH or sync push); all others are read-only. */
export const PATIENT_FIELDS = [
  'patient_name',
  'patient_birth_date',
  'patient_weight_kg',
  'patient_blood_group',
  'patient_diagnosis',
  'notes',
] as const;
