import type { MigrationInterface, QueryRunner } from 'typeorm';

/** normalizeEmail (src/modules/auth/email.ts) as of this migration, frozen here: a migration must not change with later code. */
const normalizeEmail = (email: string): string => email.trim().normalize('NFC').toLowerCase().normalize('NFC');

/**
 * Emails become case-insensitive by the application's rule (normalizeEmail: trim, NFC, JavaScript
 * lower-case) instead of by PostgreSQL's lower(), which follows the database locale: on a C-locale
 * cluster `ÄBC@x` and `äbc@x` were two accounts, on a UTF-8 locale one. Existing emails are
 * rewritten in that form, and the unique index moves from lower(email) to email itself.
 *
 * Two accounts that the rule makes equal cannot both keep their email, and which one the person
 * uses is not ours to guess: the migration stops and names them, before changing anything.
 */
export class NormalizeEmails1764750000000 implements MigrationInterface {
  name = 'NormalizeEmails1764750000000';

  async up(q: QueryRunner): Promise<void> {
    const users: Array<{ id: string; email: string }> = await q.query('SELECT id, email FROM users ORDER BY created_at, id');
    const byEmail = new Map<string, string[]>();
    for (const user of users) {
      const email = normalizeEmail(user.email);
      byEmail.set(email, [...(byEmail.get(email) ?? []), user.id]);
    }
    const clashes = [...byEmail.values()].filter((ids) => ids.length > 1);
    if (clashes.length) {
      throw new Error(
        `Cannot normalize emails: ${clashes.length} group(s) of accounts have emails that differ only in case, ` +
          `spaces or Unicode form, and would become one: ${clashes.map((ids) => `[${ids.join(', ')}]`).join('; ')}. ` +
          'Keep one account per group (change the email of the others, or delete them), then run the migrations again.',
      );
    }
    const changed = users.map((u) => ({ id: u.id, email: normalizeEmail(u.email) })).filter((u, i) => u.email !== users[i].email);
    if (changed.length) {
      await q.query(
        `UPDATE users AS u SET email = v.email
           FROM unnest($1::uuid[], $2::varchar[]) AS v(id, email)
          WHERE u.id = v.id`,
        [changed.map((u) => u.id), changed.map((u) => u.email)],
      );
    }
    await q.query('DROP INDEX users_email_lower_key');
    await q.query('CREATE UNIQUE INDEX users_email_key ON users (email)');
  }

  /** The index goes back; the emails stay normalized (their original spelling is not kept). */
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX users_email_key');
    await q.query('CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))');
  }
}
