import { buildDemoHistory, DEMO_MAX_MONTHS } from './demo-history.js';

const FAMILY = '2c716926-e840-4354-ad93-4b37a03ee4ee';
const NOW = Date.UTC(2026, 5, 20, 12);
const DAY = 86_400_000;

describe('buildDemoHistory', () => {
  const { records, patient } = buildDemoHistory(FAMILY, 24, NOW);

  it('two years of transfusions every 3–4 weeks, with volume, weight and Hb/Hct before and after', () => {
    const dates = records.transfusions.map((t) => t.date as number).sort((a, b) => a - b);
    expect(records.transfusions.length).toBeGreaterThanOrEqual(26);
    expect(records.transfusions.length).toBeLessThanOrEqual(35);
    expect(NOW - dates[0]).toBeGreaterThan(700 * DAY);
    for (let i = 1; i < dates.length; i++) {
      expect((dates[i] - dates[i - 1]) / DAY).toBeGreaterThanOrEqual(21);
      expect((dates[i] - dates[i - 1]) / DAY).toBeLessThanOrEqual(28); // found by mutation testing: 21–32 days passed
    }
    for (const t of records.transfusions) {
      const before = JSON.parse(t.indicators_before as string);
      const after = JSON.parse(t.indicators_after as string);
      expect(before.hb).toBeGreaterThanOrEqual(8);
      expect(before.hb).toBeLessThan(10.5);
      expect(after.hb).toBeGreaterThan(before.hb + 2);
      expect(after.hct).toBeGreaterThan(before.hct);
      expect(t.volume_ml as number).toBeGreaterThanOrEqual(200);
      expect(t.volume_ml as number).toBeLessThanOrEqual(400);
      expect(t.patient_weight_kg as number).toBeGreaterThan(19);
    }
  });

  it('a monthly panel of 8–12 results with units and reference ranges, ferritin in every one', () => {
    expect(records.blood_tests.length).toBeGreaterThanOrEqual(23);
    // One a month (found by mutation testing: panel days spilling into the next months passed).
    const months = records.blood_tests.map((t) => new Date(t.date as number).toISOString().slice(0, 7));
    expect(new Set(months).size).toBe(months.length);
    for (const test of records.blood_tests) {
      const results = records.blood_test_results.filter((r) => r.blood_test_id === test.id);
      expect(results.length).toBeGreaterThanOrEqual(8);
      expect(results.length).toBeLessThanOrEqual(12);
      expect(results.find((r) => r.name === 'Ferritin')).toMatchObject({ unit: 'ng/mL', reference_min: 30, reference_max: 400 });
      expect(results.find((r) => r.name === 'Hb')).toMatchObject({ unit: 'g/dL' });
      for (const r of results) expect(r.reference_min as number).toBeLessThan(r.reference_max as number);
    }
  });

  // Found by mutation testing: a child's weight that grew going back in time, and volumes that ignored it, passed.
  it('the weight grows over the history (a child), and each volume is 10–15 ml/kg of the weight that day', () => {
    const byDate = [...records.transfusions].sort((a, b) => (a.date as number) - (b.date as number));
    for (let i = 1; i < byDate.length; i++) expect(byDate[i].patient_weight_kg as number).toBeGreaterThanOrEqual(byDate[i - 1].patient_weight_kg as number);
    expect(byDate[byDate.length - 1].patient_weight_kg as number).toBeGreaterThan(byDate[0].patient_weight_kg as number);
    for (const t of byDate) {
      const perKg = (t.volume_ml as number) / (t.patient_weight_kg as number);
      expect(perKg).toBeGreaterThanOrEqual(10);
      expect(perKg).toBeLessThanOrEqual(15.5); // rounded to 10 ml
    }
    expect(patient.patient_weight_kg).toBe(byDate[byDate.length - 1].patient_weight_kg);
  });

  // Found by mutation testing: panels without the optional analytes (8 results each, never more), and
  // ferritin at a tenth of its level, passed.
  it('panels vary: some carry optional analytes; values are those of a transfused thalassemia patient', () => {
    const perTest = records.blood_tests.map((test) => records.blood_test_results.filter((r) => r.blood_test_id === test.id));
    expect(perTest.some((results) => results.length > 8)).toBe(true);
    expect(new Set(perTest.map((results) => results.length)).size).toBeGreaterThan(1);
    for (const results of perTest) {
      const value = (name: string) => results.find((r) => r.name === name)!;
      // Iron overload: ferritin far above its reference range; Hb measured before a transfusion, below it.
      expect(value('Ferritin').value as number).toBeGreaterThan(2 * (value('Ferritin').reference_max as number));
      expect(value('Hb').value as number).toBeLessThan(value('Hb').reference_min as number);
      expect(value('Hb').value as number).toBeGreaterThan(7);
      for (const r of results) expect(r.value as number).toBeGreaterThan(0);
    }
  });

  // Found by mutation testing: a transfusion, a blood panel or a completed reminder dated after the
  // seeding, and open reminders due before it, passed. Seeded on the 2nd: before this month's panel day.
  it('seeded on the 2nd of a month: history before the seeding, open reminders after it', () => {
    const seededAt = Date.UTC(2027, 2, 2, 12);
    const early = buildDemoHistory(FAMILY, 24, seededAt).records;
    for (const r of [...early.transfusions, ...early.blood_tests]) expect(r.date as number).toBeLessThanOrEqual(seededAt);
    expect(early.blood_tests.length).toBeGreaterThanOrEqual(23);
    for (const r of early.reminders) {
      if (r.is_completed) {
        expect(r.remind_at as number).toBeLessThan(seededAt);
        expect(r.completed_at as number).toBeGreaterThanOrEqual(r.remind_at as number);
        expect(r.completed_at as number).toBeLessThanOrEqual(seededAt);
      } else {
        expect(r.remind_at as number).toBeGreaterThan(seededAt);
        expect(r.completed_at).toBeNull();
      }
    }
    const next = early.reminders.find((r) => r.title === 'Next transfusion')!;
    const last = Math.max(...early.transfusions.map((t) => t.date as number));
    expect(((next.remind_at as number) - last) / DAY).toBeGreaterThanOrEqual(21);
    expect(((next.remind_at as number) - last) / DAY).toBeLessThanOrEqual(28);
  });

  // Found by mutation testing: an every_n_days reminder without its interval (nothing to repeat by) passed.
  it('only the every_n_days reminder has an interval, and it has one', () => {
    for (const r of records.reminders) {
      if (r.frequency === 'every_n_days') expect(r.interval_days as number).toBeGreaterThanOrEqual(1);
      else expect(r.interval_days).toBeNull();
    }
  });

  // Found by mutation testing: a 3-month history holding a document of 500 days ago passed.
  it('a short history holds only the documents of its months', () => {
    expect(buildDemoHistory(FAMILY, 3, NOW).records.documents.map((d) => d.name)).toEqual(['Deferasirox prescription', 'Cardiac MRI T2* report']);
    expect(records.documents).toHaveLength(5);
  });

  it('templates, reminders of every kind, document records without files', () => {
    expect(records.analysis_templates.map((t) => JSON.parse(t.indicators_json as string))).toContainEqual(expect.arrayContaining(['Hb', 'Ferritin']));
    expect(new Set(records.reminders.map((r) => r.frequency))).toEqual(new Set(['once', 'daily', 'monthly', 'every_n_days']));
    expect(records.documents.length).toBeGreaterThanOrEqual(3);
    expect(records.documents.every((d) => d.file_url === null)).toBe(true);
    expect(patient).toMatchObject({ patient_name: 'Amira', patient_blood_group: 'A+' });
  });

  it('a longer --months from the same anchor keeps every record of the shorter one as it was (ids, dates, values)', () => {
    const later = NOW + 400 * DAY; // written much later: only the stamps differ
    const short = buildDemoHistory(FAMILY, 6, NOW, later).records;
    const long = buildDemoHistory(FAMILY, 24, NOW, later).records;
    for (const table of Object.keys(short) as Array<keyof typeof short>) {
      for (const record of short[table]) expect(long[table]).toContainEqual(record);
    }
    expect(short.transfusions.every((t) => t.created_at === later && t.updated_at === later)).toBe(true);
  });

  it('the longest history --months allows starts after the patient\'s first year, with valid volumes and weights', () => {
    const longest = buildDemoHistory(FAMILY, DEMO_MAX_MONTHS, NOW);
    const firstBirthday = new Date(longest.patient.patient_birth_date);
    firstBirthday.setUTCFullYear(firstBirthday.getUTCFullYear() + 1);
    const dated = [...longest.records.transfusions, ...longest.records.blood_tests].map((r) => r.date as number);
    expect(Math.min(...dated)).toBeGreaterThanOrEqual(firstBirthday.getTime());
    for (const t of longest.records.transfusions) {
      expect(t.volume_ml as number).toBeGreaterThanOrEqual(100);
      expect(t.patient_weight_kg as number).toBeGreaterThan(10);
    }
  });

  // Found by review: the birth date was April 14 of the year 8 years back, so a family seeded from
  // January to mid-April had a patient of 7, and its longest history started before their first birthday.
  it.each(Array.from({ length: 12 }, (_, month) => [new Date(Date.UTC(2027, month, 3, 12)).toISOString().slice(0, 10), Date.UTC(2027, month, 3, 12)]))(
    'seeded on %s: the patient is 8, and the longest history starts after their first birthday',
    (_day, seededAt) => {
      const longest = buildDemoHistory(FAMILY, DEMO_MAX_MONTHS, seededAt);
      const born = new Date(longest.patient.patient_birth_date);
      const birthday = (age: number) => Date.UTC(born.getUTCFullYear() + age, born.getUTCMonth(), born.getUTCDate());
      expect(birthday(8)).toBeLessThanOrEqual(seededAt);
      expect(birthday(9)).toBeGreaterThan(seededAt);
      const dated = [...longest.records.transfusions, ...longest.records.blood_tests].map((r) => r.date as number);
      expect(Math.min(...dated)).toBeGreaterThanOrEqual(birthday(1));
    },
  );

  it('is deterministic, and the same record keeps its id whatever --months says', () => {
    expect(buildDemoHistory(FAMILY, 24, NOW)).toEqual(buildDemoHistory(FAMILY, 24, NOW));
    const short = buildDemoHistory(FAMILY, 3, NOW).records;
    const longIds = new Set(Object.values(records).flat().map((r) => r.id));
    for (const r of Object.values(short).flat()) expect(longIds.has(r.id)).toBe(true);
    const other = buildDemoHistory('7f1e2d3c-0000-4000-8000-000000000000', 24, NOW).records;
    expect(other.transfusions[0].id).not.toBe(records.transfusions[0].id);
    for (const r of Object.values(records).flat()) expect(r.family_id).toBe(FAMILY);
    // Found by mutation testing: results of one panel sharing an id (the push refuses a duplicate) passed.
    const ids = Object.values(buildDemoHistory(FAMILY, DEMO_MAX_MONTHS, NOW).records).flat().map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(records.transfusions[0].id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
