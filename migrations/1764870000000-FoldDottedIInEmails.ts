import type { MigrationInterface, QueryRunner } from 'typeorm';

/** normalizeEmail (src/modules/auth/email.ts) as of this migration, frozen here: a migration must not change with later code. */
const normalizeEmail = (email: string): string => email.trim().normalize('NFC').toLowerCase().replace(/i\u0307+/g, 'i').normalize('NFC');

/**
 * normalizeEmail now folds i + combining dot above (U+0307), what lower-casing made of a dotted
 * capital İ typed on a Turkish keyboard, to i: `İlker@gmail.com` had been stored as a look-alike of
 * `ilker@gmail.com`. Stored emails holding such a dot are rewritten by the new rule, so that their
 * owners, typing their address as before, still find their account.
 *
 * Two accounts that the rule makes equal (the look-alike was often registered by someone who could
 * not sign in to their first account that way) cannot both keep their email, and which one the
 * person uses is not ours to guess: as NormalizeEmails did, the migration stops and names them,
 * before changing anything. Left in place, the look-alike would be out of reach by email, and the
 * support commands that take one (user:delete, family:set-owner) would act on the other account.
 */
export class FoldDottedIInEmails1764870000000 implements MigrationInterface {
  name = 'FoldDottedIInEmails1764870000000';

  async up(q: QueryRunner): Promise<void> {
    const dotted: Array<{ id: string; email: string }> = await q.query('SELECT id, email FROM users WHERE strpos(email, $1) > 0 ORDER BY created_at, id', ['\u0307']);
    const folded = dotted.map((user) => ({ id: user.id, email: normalizeEmail(user.email) })).filter((user, i) => user.email !== dotted[i].email);
    if (!folded.length) return;
    const holders: Array<{ id: string; email: string }> = await q.query('SELECT id, email FROM users WHERE email = ANY($1::varchar[])', [folded.map((u) => u.email)]);
    const byEmail = new Map<string, string[]>();
    for (const user of [...holders, ...folded]) byEmail.set(user.email, [...(byEmail.get(user.email) ?? []), user.id]);
    const clashes = [...byEmail.values()].filter((ids) => ids.length > 1);
    if (clashes.length) {
      throw new Error(
        `Cannot fold the dotted i of emails: ${clashes.length} group(s) of accounts have emails that differ only in a dotted i ` +
          `(İ, or i + U+0307), and would become one: ${clashes.map((ids) => `[${ids.join(', ')}]`).join('; ')}. ` +
          'Keep one account per group (change the email of the others, or delete them), then run the migrations again.',
      );
    }
    await q.query(
      `UPDATE users AS u SET email = v.email
         FROM unnest($1::uuid[], $2::varchar[]) AS v(id, email)
        WHERE u.id = v.id`,
      [folded.map((u) => u.id), folded.map((u) => u.email)],
    );
  }

  /** Nothing to undo: the emails stay folded (their dotted spelling is not kept), as NormalizeEmails leaves them normalized. */
  async down(): Promise<void> {}
}
