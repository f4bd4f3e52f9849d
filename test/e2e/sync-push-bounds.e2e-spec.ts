import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { useTestApp } from '../setup/test-app.js';
import { changesOf, pull, push } from '../factories/sync.factory.js';
import { register } from '../sync-client/family.js';
import { SyncErrors } from '../../src/modules/sync/sync.errors.js';

/**
 * A push is validated synchronously, on the event loop every family shares, before the guards'
 * membership check is even done with it: what it refuses must be refused without work that grows
 * with the refused value (found by review, each holding every request of the instance for seconds
 * with one 64 MiB push of a signed-in user). Asserted on what the validator does, not on timings.
 */
describe('sync push: refused values cost no more than the limits they break', () => {
  const t = useTestApp();
  const transfusion = (familyId: string, overrides: Record<string, unknown> = {}) => ({
    id: randomUUID(),
    family_id: familyId,
    date: 1,
    created_at: 11,
    updated_at: 12,
    ...overrides,
  });

  it('an over-long text column is refused without walking its characters (a 60 MiB string was spread into an array: ~10 s)', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const record = transfusion(m.familyId, { notes: 'x'.repeat(2_000_000) });
    // Counts the steps of every string iterator (a spread, a for…of) while the push is handled.
    const iterator = Object.getPrototypeOf(''[Symbol.iterator]()) as { next: (this: Iterator<string>) => IteratorResult<string> };
    const next = iterator.next;
    let steps = 0;
    iterator.next = function (this: Iterator<string>) {
      steps++;
      return next.call(this);
    };
    try {
      const res = await push(t, m, c0, changesOf('transfusions', { created: [record] })).expect(422);
      expect(res.body.details).toMatchObject({ table: 'transfusions', id: record.id, field: 'notes' });
    } finally {
      iterator.next = next;
    }
    expect(steps).toBeLessThan(100_000);
  });

  it('a JSON column longer than its limit is refused before it is parsed (3,000,000 indicators in one string: ~25 s)', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const indicators = JSON.stringify(Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`i${i}`, 1])));
    const record = transfusion(m.familyId, { indicators_before: indicators });
    const res = await push(t, m, c0, changesOf('transfusions', { created: [record] })).expect(422);
    expect(res.body.details).toMatchObject({ table: 'transfusions', id: record.id, field: 'indicators_before' });
    expect(res.body.message).toContain('must be at most 316000 characters of JSON');

    // The longest values JSON.stringify writes within the other limits (names of 100 code points
    // that it escapes in six characters each, the longest numbers) are accepted.
    const name = (i: number) => `${'\u001f'.repeat(97)}${String(i).padStart(3, '0')}`;
    const longest = JSON.stringify(Object.fromEntries(Array.from({ length: 500 }, (_, i) => [name(i), -1.2345678901234567e-300])));
    const names = JSON.stringify(Array.from({ length: 500 }, (_, i) => name(i)));
    expect(longest.length).toBeGreaterThan(300_000);
    await push(t, m, c0, changesOf('transfusions', { created: [transfusion(m.familyId, { indicators_before: longest })] })).expect(200);
    const c1 = (await pull(t, m).expect(200)).body.timestamp;
    await push(t, m, c1, changesOf('analysis_templates', { created: [{ id: randomUUID(), family_id: m.familyId, name: 'panel', indicators_json: names, created_at: 1, updated_at: 1 }] })).expect(200);
  });

  it('keeps no more field errors than the 422 reports (33,000,000 invalid deleted ids: ~2.8 GB and ~6 s)', async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const invalid = jest.spyOn(SyncErrors, 'invalid');
    try {
      const deleted = Array.from({ length: 100_000 }, () => 0);
      const unknownColumns = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`c${i}`, 1]));
      for (const changes of [
        changesOf('transfusions', { deleted: deleted as unknown as string[] }),
        changesOf('transfusions', { created: [transfusion(m.familyId, unknownColumns)] }),
      ]) {
        const res = await push(t, m, c0, changes).expect(422);
        expect(res.body.details.errors).toHaveLength(50);
      }
      expect(invalid.mock.calls.map(([errors]) => errors.length)).toEqual([50, 50]);
    } finally {
      invalid.mockRestore();
    }
  });

  it("WatermelonDB's _changed longer than any list of column names is refused (a 60 MiB one was split and de-duplicated: ~3 s)", async () => {
    const m = await register(t);
    const c0 = (await pull(t, m).expect(200)).body.timestamp;
    const record = transfusion(m.familyId, { _status: 'created', _changed: 'a,'.repeat(10_000) });
    const res = await push(t, m, c0, changesOf('transfusions', { created: [record] })).expect(422);
    expect(res.body.details).toMatchObject({ table: 'transfusions', id: record.id, field: '_changed' });
    // A real one goes through.
    await push(t, m, c0, changesOf('transfusions', { created: [{ ...record, id: randomUUID(), _changed: 'date,notes,updated_at' }] })).expect(200);
  });
});
