// A figure's verdict against its target, and the word the table prints for it.

/**
 * pass / FAIL / info; in short mode a timing target is not judged ("short"), while a
 * correctness row (size-independent: counts, errors, lost records) is judged in every mode.
 */
export function verdict(row, short) {
  const ratio = Number.isFinite(row.measured) && Number.isFinite(row.baseline) && row.baseline > 0 ? row.measured / row.baseline : NaN;
  const t = row.target;
  let target = '—';
  let pass = null;
  if (t.kind === 'ratio') {
    target = `ratio ≤ ${t.max}`;
    pass = ratio <= t.max;
  } else if (t.kind === 'abs') {
    target = `≤ ${t.max} ${row.unit}`;
    pass = row.measured <= t.max;
  } else if (t.kind === 'equal') {
    target = '= baseline';
    pass = row.measured === row.baseline;
  } else if (t.kind === 'zero') {
    target = '0';
    pass = row.measured === 0;
  }
  const unjudged = short && pass !== null && !row.correctness;
  return { ...row, ratio, targetText: target, pass: unjudged ? null : pass, short: unjudged };
}

export const resultOf = (r) => (r.crashed ? 'CRASH' : r.short ? 'short' : r.pass === null ? 'info' : r.pass ? 'pass' : 'FAIL');
