import { toFamilyReport } from './family-report.service.js';

describe('family:show report', () => {
  it('versions are numbers and every time is ISO 8601, whatever the column type (BIGINT ms or timestamptz)', () => {
    const report = toFamilyReport(
      {
        id: 'f',
        invite_code: 'ABC234',
        patient_name: 'Amira',
        patient_birth_date: '1523664000000',
        patient_weight_kg: 24,
        patient_blood_group: 'A+',
        patient_diagnosis: null,
        sync_version: '1795639033099',
        record_count: '4',
        created_at: '1795639025972',
        demo_seeded_at: new Date('2026-11-25T20:37:06.000Z'),
      },
      [{ id: 'u', email: 'a@b.example', name: null, role: 'owner', created_at: new Date('2026-11-25T20:37:05.000Z') }],
      [{ table: 'transfusions', live: 3, deleted: 1 }],
    );
    expect(JSON.parse(JSON.stringify(report))).toEqual({
      family: {
        id: 'f',
        invite_code: 'ABC234',
        patient_name: 'Amira',
        patient_birth_date: '2018-04-14T00:00:00.000Z',
        patient_weight_kg: 24,
        patient_blood_group: 'A+',
        patient_diagnosis: null,
        sync_version: 1795639033099,
        created_at: '2026-11-25T20:37:05.972Z',
        demo_seeded_at: '2026-11-25T20:37:06.000Z',
      },
      members: [{ id: 'u', email: 'a@b.example', name: null, role: 'owner', created_at: '2026-11-25T20:37:05.000Z' }],
      counts: [{ table: 'transfusions', live: 3, deleted: 1 }],
    });
  });

  // Found by mutation testing: a family without a patient reported a weight of 0 kg, and passed.
  it('a family without a patient yet: its patient fields stay null, never 0 kg or 1970', () => {
    const report = toFamilyReport(
      {
        id: 'f',
        invite_code: null,
        patient_name: null,
        patient_birth_date: null,
        patient_weight_kg: null,
        patient_blood_group: null,
        patient_diagnosis: null,
        sync_version: '1795639033099',
        record_count: '0',
        created_at: '1795639025972',
        demo_seeded_at: null,
      },
      [],
      [],
    );
    expect(report.family).toMatchObject({ patient_name: null, patient_birth_date: null, patient_weight_kg: null, demo_seeded_at: null });
  });
});
