/**
 * The benchmark's pure helpers (bench/lib/): the percentiles every latency figure is, the verdict
 * that turns a figure into pass / FAIL (and the exit code), and the replay of acknowledged pushes
 * that the many-devices run compares the database with. A wrong one would print a wrong figure or
 * pass a run that lost records, and no benchmark run would show it.
 */
import { randomUUID } from 'node:crypto';
// @ts-expect-error plain ESM script without types
import { median, percentile } from '../../bench/lib/stats.mjs';
// @ts-expect-error plain ESM script without types
import { resultOf, verdict } from '../../bench/lib/verdict.mjs';
// @ts-expect-error plain ESM script without types
import { replay } from '../../bench/lib/replay.mjs';
// @ts-expect-error plain ESM script without types
import { heldTransaction } from '../../bench/lib/pg-counter.mjs';

describe('bench percentile (nearest rank)', () => {
  const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  it('p50 and p99 of 200 samples are the 100th and 198th values, whatever the input order', () => {
    const shuffled = oneTo(200).sort((a, b) => ((a * 7919) % 200) - ((b * 7919) % 200));
    expect(percentile(shuffled, 50)).toBe(100);
    expect(percentile(shuffled, 99)).toBe(198);
    expect(percentile(shuffled, 100)).toBe(200);
    expect(percentile(shuffled, 0)).toBe(1);
    expect(median(oneTo(5))).toBe(3);
  });

  it('sorts numerically, not as text, and leaves its input alone', () => {
    const values = [10, 9, 100, 2];
    expect(percentile(values, 25)).toBe(2);
    expect(percentile(values, 75)).toBe(10);
    expect(percentile(values, 100)).toBe(100);
    expect(values).toEqual([10, 9, 100, 2]);
  });

  it('is NaN for no samples', () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('bench verdict', () => {
  const row = (target: object, measured: number, baseline: number, extra: object = {}) => ({ scenario: 's', unit: 'ms', measured, baseline, target, ...extra });

  it('a ratio target passes up to its bound and fails past it, or without a usable baseline', () => {
    const ratio = { kind: 'ratio', max: 2.5 };
    expect(verdict(row(ratio, 250, 100), false)).toMatchObject({ pass: true, ratio: 2.5, targetText: 'ratio ≤ 2.5' });
    expect(verdict(row(ratio, 251, 100), false).pass).toBe(false);
    expect(verdict(row(ratio, 100, 251), false).pass).toBe(true); // measured / baseline, not the other way round
    expect(verdict(row(ratio, 1, 0), false).pass).toBe(false);
    expect(verdict(row(ratio, NaN, 100), false).pass).toBe(false);
  });

  it('an absolute target compares the measured figure itself, not the ratio', () => {
    const abs = { kind: 'abs', max: 15 };
    expect(verdict(row(abs, 15, 1), false)).toMatchObject({ pass: true, targetText: '≤ 15 ms' });
    expect(verdict(row(abs, 15.01, 100), false).pass).toBe(false);
    expect(verdict(row(abs, NaN, 1), false).pass).toBe(false);
  });

  it('equal and zero targets', () => {
    expect(verdict(row({ kind: 'equal' }, 17, 17), false).pass).toBe(true);
    expect(verdict(row({ kind: 'equal' }, 18, 17), false).pass).toBe(false);
    expect(verdict(row({ kind: 'zero' }, 0, 200), false).pass).toBe(true);
    expect(verdict(row({ kind: 'zero' }, 1, 200), false).pass).toBe(false);
    expect(verdict(row({ kind: 'zero' }, -1, 200), false).pass).toBe(false); // a negative count is a bug in the count
    expect(verdict(row({ kind: 'info' }, 1, 200), false)).toMatchObject({ pass: null, targetText: '—' });
  });

  it('short mode leaves timing targets unjudged but still judges correctness rows', () => {
    const missed = verdict(row({ kind: 'ratio', max: 2 }, 300, 100), true);
    expect(missed).toMatchObject({ pass: null, short: true });
    expect(resultOf(missed)).toBe('short');
    const lost = verdict(row({ kind: 'zero' }, 3, 100, { correctness: true }), true);
    expect(lost).toMatchObject({ pass: false, short: false });
    expect(resultOf(lost)).toBe('FAIL');
    expect(resultOf(verdict(row({ kind: 'zero' }, 0, 100, { correctness: true }), true))).toBe('pass');
    expect(resultOf(verdict(row({ kind: 'info' }, 0, 100), true))).toBe('info');
  });
});

describe('bench replay of acknowledged pushes', () => {
  const none = () => ({ created: [], updated: [], deleted: [] });
  const transfusion = (id: string, notes: string, updatedAt: number) => ({ id, date: 1, volume_ml: 250, notes, created_at: 1, updated_at: updatedAt });

  it('applies pushes in version order, not in the order their answers were recorded', () => {
    const id = randomUUID();
    const acks = [
      // Answered last (recorded first): the later version, whose edit must win.
      { version: 30, userId: 'u2', deviceId: 'd2', changes: { transfusions: { ...none(), updated: [transfusion(id, 'second edit', 3)] } } },
      { version: 10, userId: 'u1', deviceId: 'd1', changes: { transfusions: { ...none(), created: [transfusion(id, 'created', 1)] } } },
      { version: 20, userId: 'u1', deviceId: 'd1', changes: { transfusions: { ...none(), updated: [transfusion(id, 'first edit', 2)] } } },
    ];
    const row = replay(acks).transfusions.get(id);
    expect(row).toMatchObject({ notes: 'second edit', updated_at: 3, server_version: 30, server_created_version: 10, created_by: 'u1', updated_by: 'u2', created_by_device: 'd1', deleted: false });
    expect(row.medication).toBeNull(); // a column the push left out is null, as WatermelonDB pushes whole records
  });

  it('a deletion tombstones the row at its version; deleting it again, or a missing id, changes nothing', () => {
    const id = randomUUID();
    const rows = replay([
      { version: 1, userId: 'u1', deviceId: 'd1', changes: { transfusions: { ...none(), created: [transfusion(id, 'created', 1)] } } },
      { version: 5, userId: 'u2', deviceId: 'd2', changes: { transfusions: { ...none(), deleted: [id] } } },
      { version: 6, userId: 'u1', deviceId: 'd1', changes: { transfusions: { ...none(), deleted: [id, randomUUID()] } } }, // already deleted, and a missing id: no-ops
    ]);
    expect(rows.transfusions.get(id)).toMatchObject({ deleted: true, server_version: 5, updated_by: 'u2', notes: 'created' });
    expect(rows.transfusions.size).toBe(1);
  });

  it("a deleted blood test takes its results with it, at the deletion's version", () => {
    const test = randomUUID();
    const result = randomUUID();
    const other = randomUUID();
    const late = randomUUID();
    const rows = replay([
      {
        version: 1,
        userId: 'u1',
        deviceId: 'd1',
        changes: {
          blood_tests: { ...none(), created: [{ id: test, date: 1, created_at: 1, updated_at: 1 }, { id: other, date: 1, created_at: 1, updated_at: 1 }] },
          blood_test_results: { ...none(), created: [{ id: result, blood_test_id: test, name: 'Hb', value: 90, created_at: 1, updated_at: 1 }] },
        },
      },
      { version: 2, userId: 'u2', deviceId: 'd2', changes: { blood_tests: { ...none(), deleted: [test] } } },
      // A result written later under the test already deleted dies at once, as the server's tombstoneOrphanResults does.
      { version: 3, userId: 'u1', deviceId: 'd1', changes: { blood_test_results: { ...none(), created: [{ id: late, blood_test_id: test, name: 'Hb', value: 91, created_at: 2, updated_at: 2 }] } } },
    ]);
    expect(rows.blood_test_results.get(result)).toMatchObject({ deleted: true, server_version: 2, updated_by: 'u2' });
    expect(rows.blood_test_results.get(late)).toMatchObject({ deleted: true, server_version: 3, server_created_version: 3 });
    expect(rows.blood_tests.get(other)).toMatchObject({ deleted: false, server_version: 1 });
  });
});

describe("bench heldTransaction (the push's replay of the app's own SQL)", () => {
  it('keeps the round trips the app made: statements sent before one Sync replay as one batch', () => {
    const lock = { text: 'SELECT 1 FROM families WHERE id = $1 FOR UPDATE', values: ['f'], prepared: true };
    const write = { text: 'INSERT INTO transfusions SELECT * FROM jsonb_array_elements($1)', values: ['[]'], prepared: false };
    const bump = { text: 'UPDATE families SET sync_version = $1', values: ['2'], prepared: true };
    const recorded = [
      [{ text: 'SELECT 1', values: [] }, { sync: true }], // another request on another connection: no held COMMIT
      [
        { text: 'SELECT guard', values: ['u'], prepared: false },
        { sync: true },
        { text: 'BEGIN' },
        lock,
        { sync: true },
        write,
        bump,
        { sync: true },
        { text: 'COMMIT', heldCommit: true },
      ],
    ];
    expect(heldTransaction(recorded)).toEqual([{ text: 'BEGIN' }, { batch: [lock] }, { batch: [write, bump] }, { text: 'COMMIT' }]);
  });

  it('refuses anything but exactly one held transaction', () => {
    expect(() => heldTransaction([[{ text: 'BEGIN' }, { text: 'COMMIT' }]])).toThrow('expected one held transaction, found 0');
  });
});
