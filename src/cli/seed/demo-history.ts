import { seedId, seededRandom } from './seed-ids.js';

/** A raw record in the sync wire format (snake_case columns, ms dates, JSON columns as strings). */
export type WireRecord = { id: string } & Record<string, string | number | boolean | null>;

/** Tables in push order: a blood test precedes its results. */
export const SEEDED_TABLES = ['transfusions', 'blood_tests', 'blood_test_results', 'analysis_templates', 'reminders', 'documents'] as const;
export type SeededTable = (typeof SEEDED_TABLES)[number];

export interface DemoPatient {
  patient_name: string;
  patient_birth_date: number;
  patient_weight_kg: number;
  patient_blood_group: string;
  patient_diagnosis: string;
  notes: string;
}

export interface DemoHistory {
  patient: DemoPatient;
  records: Record<SeededTable, WireRecord[]>;
}

const DAY = 86_400_000;
/** The demo patient's age when the family is seeded (the birth date below). */
const PATIENT_AGE_YEARS = 8;
/**
 * The longest history `--months` may ask for: the patient has been transfused since age 1. Further
 * back, records predated the patient's first transfusion, then their birth, and from about 15 years
 * the weight model fell to 0 kg, so a transfusion of 0 ml failed the push (found by review:
 * `seed --months 240`, allowed, failed after creating the account).
 */
export const DEMO_MAX_MONTHS = (PATIENT_AGE_YEARS - 1) * 12;
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const between = (rng: () => number, min: number, max: number) => min + rng() * (max - min);

interface Analyte {
  name: string;
  unit: string;
  min: number;
  max: number;
  /** Typical value for a transfused thalassemia patient (before transfusion). */
  value: (rng: () => number, monthsAgo: number) => number;
  digits: number;
}

/** Always measured (8), plus up to four of the optional ones: 8–12 results per test. */
const CORE: Analyte[] = [
  { name: 'Hb', unit: 'g/dL', min: 11.5, max: 15.5, value: (r) => between(r, 8.6, 10.2), digits: 1 },
  { name: 'Ferritin', unit: 'ng/mL', min: 30, max: 400, value: (r, m) => 1350 + 450 * Math.sin(m / 4) + between(r, -120, 120), digits: 0 },
  { name: 'ALT', unit: 'U/L', min: 7, max: 40, value: (r) => between(r, 18, 58), digits: 0 },
  { name: 'AST', unit: 'U/L', min: 10, max: 40, value: (r) => between(r, 20, 52), digits: 0 },
  { name: 'Creatinine', unit: 'mg/dL', min: 0.3, max: 0.7, value: (r) => between(r, 0.35, 0.68), digits: 2 },
  { name: 'WBC', unit: '10^9/L', min: 4.5, max: 13.5, value: (r) => between(r, 5.2, 11.8), digits: 1 },
  { name: 'Platelets', unit: '10^9/L', min: 150, max: 450, value: (r) => between(r, 190, 420), digits: 0 },
  { name: 'MCV', unit: 'fL', min: 75, max: 95, value: (r) => between(r, 72, 84), digits: 1 },
];
const OPTIONAL: Analyte[] = [
  { name: 'Hct', unit: '%', min: 35, max: 45, value: (r) => between(r, 26, 31), digits: 1 },
  { name: 'Total bilirubin', unit: 'mg/dL', min: 0.2, max: 1.2, value: (r) => between(r, 0.8, 2.4), digits: 1 },
  { name: 'Serum iron', unit: 'µg/dL', min: 50, max: 120, value: (r) => between(r, 140, 210), digits: 0 },
  { name: 'Reticulocytes', unit: '%', min: 0.5, max: 2.5, value: (r) => between(r, 0.4, 1.6), digits: 1 },
  { name: 'Vitamin D', unit: 'ng/mL', min: 30, max: 100, value: (r) => between(r, 18, 42), digits: 0 },
  { name: 'Fasting glucose', unit: 'mg/dL', min: 70, max: 100, value: (r) => between(r, 72, 98), digits: 0 },
];

/**
 * A realistic, deterministic medical history for one family: the patient of
 * a beta-thalassemia major family transfused every 3–4 weeks, a monthly blood
 * panel, templates, reminders and a few document records.
 *
 * Dates count back from `now`, which the seeder passes as the family's
 * seeding time (stable across runs), not today. Every record's id and values
 * derive from (family, table, ordinal counted back from `now`), never from
 * `months`, so a re-run — even days later, even with another `--months` —
 * produces the same records with the same ids and dates, and a longer
 * `--months` only adds older ones, keeping the 3–4 week spacing.
 * `writtenAt` stamps created_at / updated_at (when the rows are written).
 */
export function buildDemoHistory(familyId: string, months: number, now: number, writtenAt = now): DemoHistory {
  const start = now - months * 30.44 * DAY;
  const weightAt = (t: number) => round(24 - ((now - t) / (365 * DAY)) * 1.6, 1);
  // Every record names its family, as a device's new records do.
  const stamp = { family_id: familyId, created_at: writtenAt, updated_at: writtenAt };
  const records: Record<SeededTable, WireRecord[]> = {
    transfusions: [],
    blood_tests: [],
    blood_test_results: [],
    analysis_templates: [],
    reminders: [],
    documents: [],
  };

  // Transfusions: the most recent a few days ago, then every 21–28 days back.
  let date = startOfDay(now) - 3 * DAY + 9.5 * 3600_000;
  for (let n = 0; date >= start; n++) {
    const rng = seededRandom(familyId, 'transfusion', n);
    const weight = weightAt(date);
    const hbBefore = round(between(rng, 8.4, 9.9));
    const hbAfter = round(hbBefore + between(rng, 2.6, 3.6));
    const reaction = rng() < 0.06 ? 'Mild urticaria 20 min into the transfusion; rate slowed, cetirizine given, resolved' : null;
    records.transfusions.push({
      id: seedId(familyId, 'transfusions', n),
      date,
      volume_ml: Math.round((weight * between(rng, 12, 15)) / 10) * 10,
      patient_weight_kg: weight,
      medication: rng() < 0.3 ? 'Paracetamol 250 mg PO (premedication)' : null,
      indicators_before: JSON.stringify({ hb: hbBefore, hct: round(hbBefore * 2.95) }),
      indicators_after: JSON.stringify({ hb: hbAfter, hct: round(hbAfter * 2.95) }),
      hospital: "City Children's Hospital, Day Care Unit",
      reaction,
      notes: n % 5 === 0 ? 'Leukoreduced packed red cells, 1 unit' : null,
      ...stamp,
    });
    date -= Math.round(between(rng, 21, 28)) * DAY;
  }

  // One blood panel per month, a few days before mid-month.
  for (let n = 0; n < months; n++) {
    const rng = seededRandom(familyId, 'blood_test', n);
    const testDate = monthDay(now, n, 8 + Math.floor(rng() * 6)) + 8 * 3600_000;
    if (testDate > now || testDate < start) continue;
    const testId = seedId(familyId, 'blood_tests', n);
    records.blood_tests.push({
      id: testId,
      date: testDate,
      comment: n % 3 === 0 ? 'Pre-transfusion panel; chelation adherence discussed' : null,
      laboratory: n % 4 === 0 ? 'Central Hematology Lab' : 'City Clinical Laboratory',
      ...stamp,
    });
    const extras = OPTIONAL.filter(() => rng() < 0.45).slice(0, 4);
    for (const analyte of [...CORE, ...extras]) {
      records.blood_test_results.push({
        id: seedId(familyId, 'blood_test_results', n, analyte.name),
        blood_test_id: testId,
        name: analyte.name,
        value: round(analyte.value(rng, n), analyte.digits),
        unit: analyte.unit,
        reference_min: analyte.min,
        reference_max: analyte.max,
        ...stamp,
      });
    }
  }

  const templates: Array<[string, string[]]> = [
    ['Monthly panel', CORE.map((a) => a.name)],
    ['Pre-transfusion', ['Hb', 'Hct', 'Reticulocytes']],
    ['Chelation safety', ['Creatinine', 'ALT', 'AST', 'Total bilirubin']],
    ['Iron status', ['Ferritin', 'Serum iron']],
  ];
  records.analysis_templates = templates.map(([name, indicators], n) => ({
    id: seedId(familyId, 'analysis_templates', n),
    name,
    indicators_json: JSON.stringify(indicators),
    ...stamp,
  }));

  const lastTransfusion = records.transfusions[0]?.date as number | undefined;
  const reminders: Array<Omit<WireRecord, 'id'>> = [
    { title: 'Next transfusion', remind_at: (lastTransfusion ?? now) + 24 * DAY, frequency: 'once', interval_days: null, is_completed: false, completed_at: null, notes: 'Bring the last blood panel' },
    { title: 'Deferasirox 20 mg/kg with breakfast', remind_at: startOfDay(now) + DAY + 8 * 3600_000, frequency: 'daily', interval_days: null, is_completed: false, completed_at: null, notes: null },
    { title: 'Monthly blood panel', remind_at: monthDay(now, -1, 10) + 8 * 3600_000, frequency: 'monthly', interval_days: null, is_completed: false, completed_at: null, notes: 'Fasting, morning' },
    { title: 'Ferritin review with the hematologist', remind_at: now + 40 * DAY, frequency: 'every_n_days', interval_days: 90, is_completed: false, completed_at: null, notes: null },
    { title: 'Cardiac MRI T2*', remind_at: now - 60 * DAY, frequency: 'once', interval_days: null, is_completed: true, completed_at: now - 58 * DAY, notes: 'Yearly iron overload check' },
  ];
  records.reminders = reminders.map((r, n) => ({ id: seedId(familyId, 'reminders', n), ...r, ...stamp }));

  const documents: Array<{ daysAgo: number; name: string; category: string; notes: string | null }> = [
    { daysAgo: 15, name: 'Deferasirox prescription', category: 'prescription', notes: 'Renewed for 3 months' },
    { daysAgo: 62, name: 'Cardiac MRI T2* report', category: 'imaging', notes: 'T2* 28 ms: no cardiac iron overload' },
    { daysAgo: 140, name: 'Blood panel (printed copy)', category: 'lab_result', notes: null },
    { daysAgo: 300, name: 'Discharge summary: port placement', category: 'discharge_summary', notes: null },
    { daysAgo: 500, name: 'Hemoglobin electrophoresis', category: 'lab_result', notes: 'Diagnosis confirmation' },
  ];
  records.documents = documents
    .map((d, n) => ({ ...d, n }))
    .filter((d) => now - d.daysAgo * DAY >= start)
    .map((d) => ({
      id: seedId(familyId, 'documents', d.n),
      name: d.name,
      category: d.category,
      // Records only: the scans themselves are not part of the demo data.
      file_url: null,
      mime_type: null,
      size_bytes: null,
      notes: d.notes,
      ...stamp,
    }));

  // 8 years and 100 days before `now`: the patient is 8 whenever seeded, and over a year old where the
  // longest history starts. (April 14 of the year 8 years back made a patient of 7 for a family seeded
  // before mid-April, whose longest history started before their first birthday: found by review.)
  const seeded = new Date(now);
  const birth = Date.UTC(seeded.getUTCFullYear() - PATIENT_AGE_YEARS, seeded.getUTCMonth(), seeded.getUTCDate()) - 100 * DAY;
  return {
    patient: {
      patient_name: 'Amira',
      patient_birth_date: birth,
      patient_weight_kg: weightAt(now),
      patient_blood_group: 'A+',
      patient_diagnosis: 'Beta-thalassemia major',
      notes: 'Transfusion-dependent since age 1. Chelation: deferasirox. Target pre-transfusion Hb 9.5–10.5 g/dL.',
    },
    records,
  };
}

function startOfDay(t: number): number {
  return Math.floor(t / DAY) * DAY;
}

/** Day `day` of the month `monthsAgo` months before `now` (negative: in the future), UTC. */
function monthDay(now: number, monthsAgo: number, day: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - monthsAgo, day);
}
